// Package parquetfile opens a Parquet file for Arrow record batches the way
// t2f writes every Parquet file (feature files, their extra columns,
// scores.parquet): Snappy compression, PLAIN encoding except for the
// string columns named for a dictionary, the Arrow schema stored in the
// file (key "ARROW:schema") so Arrow readers restore fixed-size lists, and
// the bytes written through internal/atomicfile, so the file appears under
// its name only once Commit has finished it. What differs between the files
// (dictionary columns, statistics, row-group length, created_by) is the
// caller's Options.
//
// It owns no schema: features and evaluate define theirs. Any t2f package
// that writes Parquet may import it; it imports only internal/atomicfile.
package parquetfile

// Prints a Parquet file as JSON using hyparquet, a Parquet reader that shares
// no code with arrow-go: {"kv": {key: value}, "num_rows": N, "row_groups": G,
// "rows": [{column: value}]}. BigInt (int64) values are printed as numbers
// (feature ids stay far below 2^53). Run by features/interop_test.go:
//   node read.mjs FILE.parquet
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet'

const path = process.argv[2]
const file = await asyncBufferFromFile(path)
const meta = await parquetMetadataAsync(file)
const kv = {}
for (const { key, value } of meta.key_value_metadata ?? []) kv[key] = value
const rows = await parquetReadObjects({ file })
const out = { kv, num_rows: Number(meta.num_rows), row_groups: meta.row_groups.length, rows }
process.stdout.write(JSON.stringify(out, (_, v) => (typeof v === 'bigint' ? Number(v) : v)))

package cublasload

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Sonames are the cuBLAS sonames tried, newest first (CUDA 13, 12, 11).
func Sonames() []string {
	return []string{"libcublas.so.13", "libcublas.so.12", "libcublas.so.11"}
}

// Config says where to look for cuBLAS.
type Config struct {
	// Path is an explicit library file; when set, only it is tried.
	Path string
	// Dirs are searched in order for each soname (e.g. the directories of
	// LD_LIBRARY_PATH, see SplitPathList).
	Dirs []string
	// Sonames overrides Sonames() (tests; nil means the default list).
	Sonames []string
}

// SplitPathList splits a colon-separated list such as LD_LIBRARY_PATH,
// dropping empty entries.
func SplitPathList(list string) []string {
	var dirs []string
	for _, d := range strings.Split(list, string(os.PathListSeparator)) {
		if d != "" {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// Locate returns the names to hand to dlopen, in order: cfg.Path alone when
// it is set (an error if it is not a file), else dir/soname for every
// existing file (sonames outermost, so a .so.13 anywhere wins over a .so.12),
// then the bare sonames for the dynamic loader's own search.
func Locate(cfg Config) ([]string, error) {
	if cfg.Path != "" {
		st, err := os.Stat(cfg.Path)
		if err != nil {
			return nil, fmt.Errorf("cublasload: explicit cuBLAS path: %w", err)
		}
		if st.IsDir() {
			return nil, fmt.Errorf("cublasload: explicit cuBLAS path %s is a directory, want the library file (e.g. %s/libcublas.so.13)", cfg.Path, cfg.Path)
		}
		return []string{cfg.Path}, nil
	}
	names := cfg.Sonames
	if names == nil {
		names = Sonames()
	}
	var out []string
	for _, name := range names {
		for _, dir := range cfg.Dirs {
			p := filepath.Join(dir, name)
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				out = append(out, p)
			}
		}
	}
	return append(out, names...), nil
}

// NotFoundError reports that no candidate could be opened.
type NotFoundError struct {
	Tried  []string // what was handed to dlopen, in order
	Errors []string // dlopen's message for each
}

func (e *NotFoundError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cublasload: no cuBLAS found (tried %v)", e.Tried)
	if len(e.Errors) > 0 {
		fmt.Fprintf(&b, "; last error: %s", e.Errors[len(e.Errors)-1])
	}
	b.WriteString("; put the directory of libcublas.so.13 on LD_LIBRARY_PATH or name the file explicitly")
	return b.String()
}

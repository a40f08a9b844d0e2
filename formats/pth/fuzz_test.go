package pth

import (
	"archive/zip"
	"bytes"
	"io"
	"testing"
)

// FuzzUnpickle feeds arbitrary bytes to the restricted unpickler (with a
// persistent loader that hands out a small storage) and then to the
// state_dict search: it must return a value or an error, never panic or hang.
func FuzzUnpickle(f *testing.F) {
	for _, p := range []string{
		tensorPickle(4, 1, 2, 2),
		"\x80\x02cos\nsystem\n" + uni("ls") + "\x85R.",
		"\x80\x02}q\x00(h\x00h\x00s0.",
		"\x80\x02(((((((((.",
		"\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00}\x94.",
	} {
		f.Add([]byte(p))
	}
	for _, path := range []string{"testdata/views.pth", "testdata/t2fnorm_r18_w1-64.pth"} {
		if pkl := dataPickle(f, path); pkl != nil {
			f.Add(pkl)
		}
	}
	// Legacy object pickles: 6-tuple persistent ids, storage views, Python 2
	// strings, a wrapper with an optimiser state.
	f.Add([]byte(legacyTensor(legacyPid("7", 4, "("+uni("v")+"K\x01K\x03t"), 1, 2)))
	for _, path := range []string{"testdata/legacy_storage_views.pth", "testdata/legacy_f64.pth"} {
		f.Add(legacyObjectPickle(f, path))
	}
	loader := func(pid any) (any, error) {
		return &storage{dtype: storageTypes["FloatStorage"], key: "0", location: "cpu", numel: 16}, nil
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := unpickle(data, loader)
		if err != nil {
			return
		}
		_, _ = findStateDict(v)
		_ = typeName(v)
	})
}

// FuzzDecode feeds arbitrary bytes as a whole checkpoint file (zip and
// legacy seeds).
func FuzzDecode(f *testing.F) {
	f.Add(mustRead(f, "testdata/views.pth"))
	f.Add(archiveBytes(f, "archive/data.pkl", tensorPickle(4, 1, 2, 2), "archive/data/0", floats(1, 2, 3, 4)))
	for _, path := range []string{"testdata/legacy_views.pth", "testdata/legacy_f64.pth", "testdata/legacy_storage_views.pth"} {
		f.Add(mustRead(f, path))
	}
	f.Add([]byte(legacyPrefix(true) + legacyTensor(legacyPid("7", 4, "("+uni("v")+"K\x01K\x03t"), 1, 2) + keyList("7") + storageData(4, 1, 2, 3, 4)))
	f.Fuzz(func(t *testing.T, data []byte) {
		ts, err := Decode("fuzz", data)
		if err != nil {
			return
		}
		for _, x := range ts {
			if err := x.Validate(); err != nil {
				t.Fatalf("Decode returned an invalid tensor: %v", err)
			}
		}
	})
}

// legacyObjectPickle extracts the object pickle (the fourth) of a legacy fixture.
func legacyObjectPickle(t testing.TB, path string) []byte {
	t.Helper()
	data := mustRead(t, path)
	for range 3 {
		_, n, err := unpickleFrom(data, nil)
		if err != nil {
			t.Fatal(err)
		}
		data = data[n:]
	}
	return data
}

// dataPickle extracts data.pkl from a fixture.
func dataPickle(t testing.TB, path string) []byte {
	t.Helper()
	data := mustRead(t, path)
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		if len(f.Name) > 9 && f.Name[len(f.Name)-9:] == "/data.pkl" {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
	return nil
}

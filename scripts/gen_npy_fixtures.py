#!/usr/bin/python3
"""Writes formats/npy/testdata with NumPy itself (run from the repository
root: /usr/bin/python3 scripts/gen_npy_fixtures.py). Values are
arange-based so the Go test knows them: a[i] = i·0.5 − 1 (floats), i − 2
(signed), i (unsigned, bool: i % 2)."""
import numpy as np

D = "formats/npy/testdata/"
f = (np.arange(6) * 0.5 - 1).reshape(2, 3)
np.save(D + "f4.npy", f.astype("<f4"))
np.save(D + "f8.npy", f.astype("<f8"))
np.save(D + "f2.npy", f.astype("<f2"))
np.save(D + "i8.npy", (np.arange(5) - 2).astype("<i8"))
np.save(D + "u1.npy", np.arange(5).astype("u1"))
np.save(D + "b1.npy", (np.arange(5) % 2).astype(bool))
np.save(D + "scalar.npy", np.float32(0.25))
np.lib.format.write_array(open(D + "v2.npy", "wb"), f.astype("<f4"), version=(2, 0))
np.save(D + "fortran.npy", np.asfortranarray(f.astype("<f4")))
np.save(D + "bigendian.npy", f.astype(">f4"))
np.save(D + "object.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
np.savez(D + "plain.npz", features=f.astype("<f4"), labels=np.array([0, -1], dtype="<i8"))
np.savez_compressed(D + "compressed.npz", features=f.astype("<f4"), labels=np.array([0, -1], dtype="<i4"))

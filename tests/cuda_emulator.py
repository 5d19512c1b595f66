"""Run the CUDA kernels of kernels/*.cu on the host, for tests on machines without a GPU.

Each kernel source is compiled once with g++ (C++20) after ``cuda_host.h``, which maps CUDA's threads,
blocks, shared memory, barriers and atomics onto std::thread, std::barrier and std::atomic_ref. A launch
takes CuPy's form, ``kernel((grid,), (block,), args, shared_mem=...)``, with NumPy arrays where CuPy
would take device arrays, and checks every argument against the kernel's declaration: an array's item
size against the pointee, a scalar's size against the parameter (CuPy does not check; a mismatch there
is silent garbage on the device).

``install()`` makes gpusiibra's kernel paths (``gpusiibra._kernels``) launch through this emulator on the
CPU backend, so the same Python code that drives the device is run, with NumPy arrays, end to end.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import re
import shutil
import subprocess
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SHIM = os.path.join(HERE, "cuda_host.h")
_CACHE = os.path.join(tempfile.gettempdir(), "gpusiibra-cuda-emulator")
_KERNEL = re.compile(r'extern\s+"C"\s+__global__\s+void\s+(\w+)\s*\(')


def available() -> bool:
    """True when a C++20 compiler is here."""
    return shutil.which(os.environ.get("CXX", "g++")) is not None


class EmulatedKernel:
    def __init__(self, lib, name):
        self.name = name
        self._launch = getattr(lib, f"emu_launch_{name}")
        self._launch.argtypes = [ctypes.c_uint, ctypes.c_uint, ctypes.c_size_t, ctypes.POINTER(ctypes.c_void_p)]
        n = getattr(lib, f"emu_nargs_{name}")()
        sig = (ctypes.c_int * n)()
        getattr(lib, f"emu_sig_{name}")(sig)
        self.signature = list(sig)
        self.max_dynamic_shared_size_bytes = 48 * 1024
        self.launches = 0

    def __call__(self, grid, block, args, shared_mem=0):
        grid, block = int(grid[0]), int(block[0])
        if len(args) != len(self.signature):
            raise TypeError(f"{self.name}: {len(args)} arguments for {len(self.signature)} parameters")
        if shared_mem > self.max_dynamic_shared_size_bytes:
            raise RuntimeError(f"{self.name}: {shared_mem} bytes of dynamic shared memory, but the kernel's "
                               f"limit is {self.max_dynamic_shared_size_bytes} (raise max_dynamic_shared_size_bytes)")
        keep, ptrs = [], []
        for i, (a, code) in enumerate(zip(args, self.signature)):
            if isinstance(a, np.ndarray):
                if code < 1000:
                    raise TypeError(f"{self.name}: argument {i} is an array, the kernel takes a {code}-byte value")
                if a.itemsize != code - 1000:
                    raise TypeError(f"{self.name}: argument {i} is a {a.dtype} array, the kernel reads "
                                    f"{code - 1000}-byte items")
                if not a.flags.c_contiguous:
                    raise TypeError(f"{self.name}: argument {i} is not C-contiguous")
                cell = ctypes.c_void_p(a.ctypes.data)
                keep.append(a)
            elif isinstance(a, np.generic):
                if code >= 1000:
                    raise TypeError(f"{self.name}: argument {i} is a scalar, the kernel takes a pointer")
                if a.itemsize != code:
                    raise TypeError(f"{self.name}: argument {i} is a {a.dtype} scalar, the kernel takes "
                                    f"{code} bytes")
                cell = ctypes.create_string_buffer(a.tobytes(), max(8, code))
            else:
                raise TypeError(f"{self.name}: argument {i} is a {type(a).__name__}: pass NumPy scalars or arrays, "
                                "so that the size is explicit (as CuPy needs it)")
            keep.append(cell)
            ptrs.append(ctypes.addressof(cell))  # argv[i] points at the argument's value, as cuLaunchKernel's
        argv = (ctypes.c_void_p * max(1, len(ptrs)))(*ptrs)
        if grid > 0 and block > 0:
            self._launch(grid, block, int(shared_mem), argv)
        self.launches += 1


class EmulatedModule:
    """A compiled kernel source: ``get_function(name)`` as cupy.RawModule has it."""

    def __init__(self, source_path):
        with open(source_path) as f:
            src = f.read()
        names = _KERNEL.findall(src)
        with open(SHIM) as f:
            shim = f.read()
        key = hashlib.sha256((shim + src).encode()).hexdigest()[:16]
        os.makedirs(_CACHE, exist_ok=True)
        lib_path = os.path.join(_CACHE, f"{os.path.basename(source_path)}-{key}.so")
        if not os.path.exists(lib_path):
            wrappers = "".join(
                f'extern "C" void emu_launch_{n}(unsigned g, unsigned b, std::size_t s, void** a) '
                f'{{ emu::launch({n}, g, b, s, a); }}\n'
                f'extern "C" int emu_nargs_{n}() {{ return emu::nargs({n}); }}\n'
                f'extern "C" void emu_sig_{n}(int* out) {{ emu::signature({n}, out); }}\n' for n in names)
            cpp = os.path.join(_CACHE, f"{key}.cpp")
            with open(cpp, "w") as f:
                f.write(f'#include "{SHIM}"\n#include "{os.path.abspath(source_path)}"\n{wrappers}')
            tmp = lib_path + f".{os.getpid()}.tmp"
            cmd = [os.environ.get("CXX", "g++"), "-std=c++20", "-O1", "-fPIC", "-shared", "-pthread",
                   "-Wall", "-Wno-unused-function", "-o", tmp, cpp]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode:
                raise RuntimeError(f"compiling {source_path} for the host failed:\n{r.stderr}")
            os.replace(tmp, lib_path)
        self._lib = ctypes.CDLL(lib_path)
        self._kernels = {n: EmulatedKernel(self._lib, n) for n in names}

    def get_function(self, name):
        return self._kernels[name]


class Emulator:
    """What ``gpusiibra._kernels`` asks of a kernel provider: compiled modules and the device's limits."""

    #: H100: 227 KiB of shared memory per block with the opt-in attribute raised
    shared_limit = 227 * 1024

    def __init__(self):
        from gpusiibra import _kernels as kernels

        self._dir = kernels.kernel_source_dir()
        self._modules = {}

    def module(self, name):
        if name not in self._modules:
            self._modules[name] = EmulatedModule(os.path.join(self._dir, name + ".cu"))
        return self._modules[name]

    def launches(self) -> int:
        return sum(k.launches for m in self._modules.values() for k in m._kernels.values())


#: the emulator runs a grid's blocks one after another on the same threads, two barriers a block: the
#: grid-stride kernels are launched with at most this many blocks (the device's cap, 65535 x 16, would only
#: add barriers; tests/test_kernels.py checks the kernels with a single block too)
EMULATED_MAX_GRID = 8


def install(monkeypatch):
    """Run gpusiibra's raw-kernel code paths through the emulator (NumPy arrays, CPU backend) for one test."""
    from gpusiibra import _kernels as kernels

    emu = Emulator()
    monkeypatch.setattr(kernels, "_EMULATOR", emu)
    monkeypatch.setattr(kernels, "_MAX_GRID", min(kernels._MAX_GRID, EMULATED_MAX_GRID))
    return emu

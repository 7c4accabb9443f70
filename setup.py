# SPDX-License-Identifier: MIT
"""Builds gfd._core, the compiled half of the Python module (metadata: pyproject.toml).

Compiled like gfd's own CMake targets: C++20, -O3, OpenMP, -march=native (the fast path on the
machine that builds; set GFD_PORTABLE=1 for a binary that runs on any x86-64), OpenBLAS (OpenMP
build, Debian's libopenblas-openmp-dev) for the large-d products when it is installed (set
GFD_OPENBLAS=0 to use Eigen's), and the evaluators' kernel sums compiled once
(python/src/instances_*.cpp, GFD_EXTERN_TEMPLATES). The sources compile in parallel
(GFD_BUILD_JOBS, default: every core).
"""
import os
import shlex
import subprocess
import sysconfig
from pathlib import Path

from pybind11.setup_helpers import ParallelCompile, Pybind11Extension, build_ext
from setuptools import setup

ROOT = Path(__file__).resolve().parent


def pkg_config_includes(package, fallback):
    try:
        out = subprocess.run(["pkg-config", "--cflags-only-I", package], check=True,
                             capture_output=True, text=True).stdout
        dirs = [flag[2:] for flag in shlex.split(out) if flag.startswith("-I")]
        if dirs:
            return dirs
    except (OSError, subprocess.CalledProcessError):
        pass
    return [fallback]


compile_args = ["-O3", "-DNDEBUG", "-fopenmp", "-DGFD_EXTERN_TEMPLATES"]
link_args = ["-fopenmp"]
include_dirs = [str(ROOT / "include")] + pkg_config_includes("eigen3", "/usr/include/eigen3")
library_dirs, libraries = [], []

if os.environ.get("GFD_PORTABLE", "0") != "1":
    compile_args.append("-march=native")
    # GCC 12's false positives inside Eigen's AVX-512 packets (as in CMakeLists.txt).
    compile_args += ["-Wno-maybe-uninitialized", "-Wno-uninitialized", "-Wno-array-bounds"]

multiarch = sysconfig.get_config_var("MULTIARCH") or "x86_64-linux-gnu"
openblas_include = Path("/usr/include") / multiarch / "openblas-openmp"
openblas_lib = Path("/usr/lib") / multiarch / "openblas-openmp"
if (os.environ.get("GFD_OPENBLAS", "1") != "0" and (openblas_include / "cblas.h").exists()
        and (openblas_lib / "libopenblas.so").exists()):
    compile_args.append("-DGFD_USE_OPENBLAS")
    include_dirs.append(str(openblas_include))
    library_dirs.append(str(openblas_lib))
    libraries.append("openblas")
    link_args.append(f"-Wl,-rpath,{openblas_lib}")


class gfd_build_ext(build_ext):
    """build_ext without the interpreter's own hardening and debugging flags (-fwrapv,
    -fstack-protector-strong, -g, -O2 before our -O3): -fwrapv alone blocks optimisations of the
    kernel sums' loops, and together they made the module's flows 10 % slower than the same code
    built by CMake."""

    def build_extensions(self):
        drop = {"-fwrapv", "-fstack-protector-strong", "-g", "-O2"}
        for attr in ("compiler_so", "compiler_cxx", "linker_so"):
            flags = getattr(self.compiler, attr, None)
            if flags:
                setattr(self.compiler, attr, [f for f in flags if f not in drop])
        super().build_extensions()


ParallelCompile("GFD_BUILD_JOBS", default=0).install()

sources = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "python" / "src").glob("*.cpp"))
core = Pybind11Extension("gfd._core", sources, include_dirs=include_dirs, cxx_std=20,
                         extra_compile_args=compile_args, extra_link_args=link_args,
                         library_dirs=library_dirs, libraries=libraries)

# Build files in build-python/, beside (not inside) the CMake build tree build/.
setup(ext_modules=[core], cmdclass={"build_ext": gfd_build_ext},
      options={"build": {"build_base": "build-python"}})

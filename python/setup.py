"""
setup.py — copies a built libhelenus.so into the package at build time.

The package is pure Python (ctypes); no compiler runs here. When a library is
found (HELENUS_LIB, else ../build/release/libhelenus.so of this repository),
it is copied into the built package, which is then tagged for this platform
(the .so is native code); without one, the package is built as is and finds
the library at run time (helenus/_lib.py says where it looks).
"""
import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))


def find_lib():
    for p in (os.environ.get("HELENUS_LIB"),
              os.path.join(HERE, "..", "build", "release", "libhelenus.so")):
        if p and os.path.isfile(p):
            return os.path.abspath(p)
    return None


class BuildPy(build_py):
    def run(self):
        super().run()
        lib = find_lib()
        if lib:
            dst = os.path.join(self.build_lib, "helenus", "libhelenus.so")
            shutil.copyfile(lib, dst)
            self.announce("bundled %s" % lib, level=2)


class BinaryDistribution(Distribution):
    def has_ext_modules(self):
        return find_lib() is not None


setup(cmdclass={"build_py": BuildPy}, distclass=BinaryDistribution)

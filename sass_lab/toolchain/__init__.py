"""sass_lab.toolchain"""

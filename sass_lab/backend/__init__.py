"""sass_lab.backend"""

"""sass_lab.sass"""

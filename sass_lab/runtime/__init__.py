"""sass_lab.runtime"""

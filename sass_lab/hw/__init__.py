"""sass_lab.hw"""

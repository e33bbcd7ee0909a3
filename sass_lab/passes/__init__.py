"""sass_lab.passes"""

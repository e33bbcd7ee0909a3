"""sass_lab.ui"""

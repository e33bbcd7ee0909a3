"""sass_lab.lab"""

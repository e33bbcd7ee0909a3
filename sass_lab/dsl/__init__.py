"""sass_lab.dsl"""

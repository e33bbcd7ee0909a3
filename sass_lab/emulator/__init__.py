"""sass_lab.emulator"""

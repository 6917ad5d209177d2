#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Writes a C file that defines one NUL-terminated char array holding a text file's bytes.
import sys

src, dst, name = sys.argv[1:4]
data = open(src, 'rb').read()
with open(dst, 'w') as f:
    f.write('/* Generated from %s; do not edit. */\n' % src.split('/')[-1])
    f.write('const char %s[] = {\n' % name)
    for i in range(0, len(data), 16):
        f.write('        ' + ', '.join('0x%02x' % b for b in data[i:i + 16]) + ',\n')
    f.write('        0x00\n};\n')

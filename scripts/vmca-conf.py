#!/usr/bin/env python3
"""Reads a vMCA cluster configuration (libconfig syntax) for the shell tools
(scripts/vmca-cluster, scripts/vmca-chaos): prints what they need to start
the cluster, or writes a derived copy with other node addresses (--netns).
The daemons' own loader (common/config.c) stays the judge of validity: this
reads only the settings the scripts use, and fails loudly on what it cannot.

  vmca-conf.py info FILE
      cluster NAME / confdir DIR / certs DIR / admin PATH / master NODE PORT
      node ID NAME ADDRESS PORT CERT_GIVEN(0|1) TMEM_PAGES   (per node, in order)
  vmca-conf.py derive FILE OUT PREFIX
      OUT: FILE with node i's address PREFIX.(i+1) (i from 0), and the
      certificate paths made absolute (resolved beside FILE), so OUT may
      live in another directory. Prints the info of OUT.
"""
import os
import re
import sys

TOKEN = re.compile(r'''
    (?P<ws>\s+) |
    (?P<comment>\#[^\n]*|//[^\n]*|/\*.*?\*/) |
    (?P<string>"(?:[^"\\]|\\.)*") |
    (?P<number>[-+]?(?:0[xX][0-9a-fA-F]+|[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)L{0,2}) |
    (?P<name>[A-Za-z*][-A-Za-z0-9_*]*) |
    (?P<punct>[=:;,{}()\[\]])
''', re.VERBOSE | re.DOTALL)


class ConfError(Exception):
    pass


def tokens(text):
    pos = 0
    out = []
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m:
            line = text.count('\n', 0, pos) + 1
            raise ConfError('line %d: cannot read %r' % (line, text[pos:pos + 20]))
        kind = m.lastgroup
        if kind not in ('ws', 'comment'):
            out.append((kind, m.group(), m.start(), m.end()))
        pos = m.end()
    return out


class Str:
    """A string value and where its (last) literal sits in the text."""
    def __init__(self, value, start, end):
        self.value, self.start, self.end = value, start, end


class Parser:
    def __init__(self, toks):
        self.t, self.i = toks, 0

    def peek(self):
        return self.t[self.i] if self.i < len(self.t) else (None, None, -1, -1)

    def take(self, want=None):
        tok = self.peek()
        if tok[0] is None or (want and tok[1] != want):
            raise ConfError('expected %s, got %r' % (want or 'more', tok[1]))
        self.i += 1
        return tok

    def settings(self, close):
        group = {}
        while self.peek()[1] != close:
            kind, name, _, _ = self.take()
            if kind != 'name':
                raise ConfError('expected a setting name, got %r' % name)
            if self.peek()[1] not in ('=', ':'):
                raise ConfError('expected = after %s' % name)
            self.take()
            group[name] = self.value()
            if self.peek()[1] in (';', ','):
                self.take()
        return group

    def value(self):
        kind, text, start, end = self.peek()
        if text == '{':
            self.take()
            g = self.settings('}')
            self.take('}')
            return g
        if text in ('(', '['):
            self.take()
            close = ')' if text == '(' else ']'
            items = []
            while self.peek()[1] != close:
                items.append(self.value())
                if self.peek()[1] == ',':
                    self.take()
            self.take(close)
            return items
        if kind == 'string':
            parts = []
            while self.peek()[0] == 'string':
                _, lit, start, end = self.take()
                parts.append(bytes(lit[1:-1], 'utf-8').decode('unicode_escape'))
            return Str(''.join(parts), start, end)
        self.take()
        return text


def load(path):
    with open(path, encoding='utf-8') as f:
        text = f.read()
    p = Parser(tokens(text))
    top = p.settings(None)
    return text, top


def s(group, key, default=None):
    v = group.get(key)
    return v.value if isinstance(v, Str) else (default if v is None else v)


def resolve(confdir, path):
    return path if path.startswith('/') else os.path.join(confdir, path)


def info(path):
    text, top = load(path)
    confdir = os.path.dirname(os.path.realpath(path))
    cluster = s(top, 'cluster')
    master = top.get('master')
    nodes = top.get('nodes')
    if not isinstance(cluster, str) or not isinstance(master, dict) or not isinstance(nodes, list):
        raise ConfError('needs cluster, master and nodes (docs/configuration.md)')
    certs = resolve(confdir, s(top, 'certs_dir', 'certs'))
    admin = resolve(confdir, s(master, 'admin_socket', '%s-master.sock' % cluster))
    lines = ['cluster %s' % cluster, 'confdir %s' % confdir, 'certs %s' % certs,
             'admin %s' % admin, 'master %s %s' % (s(master, 'node'), s(master, 'port')),
             'page_size %s' % s(top, 'page_size', '4096')]
    for n in nodes:
        if not isinstance(n, dict):
            raise ConfError('nodes: every entry is a group { ... }')
        given = 1 if ('cert' in n or 'key' in n) else 0
        lines.append('node %s %s %s %s %d %s' % (s(n, 'id'), s(n, 'name'), s(n, 'address'),
                                               s(n, 'port'), given, str(s(n, 'tmem_pages')).rstrip('L')))
    return text, top, confdir, lines


def derive(path, out, prefix):
    text, top, confdir, _ = info(path)
    edits = []  # (start, end, replacement), applied from the end
    for i, n in enumerate(top['nodes']):
        a = n.get('address')
        if not isinstance(a, Str):
            raise ConfError('node %s: address is not a string' % s(n, 'name'))
        edits.append((a.start, a.end, '"%s.%d"' % (prefix, i + 1)))
        for key in ('cert', 'key'):
            v = n.get(key)
            if isinstance(v, Str):
                edits.append((v.start, v.end, '"%s"' % resolve(confdir, v.value)))
    for key in ('certs_dir', 'ca'):
        v = top.get(key)
        if isinstance(v, Str):
            edits.append((v.start, v.end, '"%s"' % resolve(confdir, v.value)))
    for start, end, rep in sorted(edits, reverse=True):
        text = text[:start] + rep + text[end:]
    if 'certs_dir' not in top:
        text += '\n# vmca-cluster --netns: the certificates of the original file\n'
        text += 'certs_dir = "%s";\n' % resolve(confdir, 'certs')
    with open(out, 'w', encoding='utf-8') as f:
        f.write('# Derived by vmca-cluster --netns from %s: node i has address %s.(i+1)\n'
                % (os.path.realpath(path), prefix))
        f.write(text)


def main(argv):
    try:
        if len(argv) == 3 and argv[1] == 'info':
            print('\n'.join(info(argv[2])[3]))
        elif len(argv) == 5 and argv[1] == 'derive':
            derive(argv[2], argv[3], argv[4])
            print('\n'.join(info(argv[3])[3]))
        else:
            sys.stderr.write(__doc__)
            return 2
    except (OSError, ConfError, UnicodeDecodeError) as e:
        sys.stderr.write('%s: %s\n' % (argv[2], e))
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))

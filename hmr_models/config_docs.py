"""Descriptions of configuration fields, read from the comments beside them.

Config dataclasses document each field with a comment on its line (or on the lines right above
it). Reading those comments gives the ROS parameter descriptions and the README's parameter
tables from the one place a developer edits, so they cannot drift apart.
"""
from dataclasses import fields
import inspect
import io
import tokenize


def field_docs(cls):
    """{field name: description} for a dataclass, from field metadata['help'] or comments."""
    docs = {}
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        source = ''
    names = {f.name for f in fields(cls)}
    line_of = {}      # field name -> line number of its definition
    comments = {}     # line number -> comment text
    own_line = set()  # lines holding only a comment
    tokens = tokenize.generate_tokens(io.StringIO(source).readline) if source else []
    try:
        for tok in tokens:
            if tok.type == tokenize.COMMENT:
                comments[tok.start[0]] = tok.string.lstrip('#').strip()
                if tok.line.strip().startswith('#'):
                    own_line.add(tok.start[0])
            elif tok.type == tokenize.NAME and tok.string in names and tok.start[1] == 4:
                line_of.setdefault(tok.string, tok.start[0])
    except tokenize.TokenError:
        pass
    for name, line in line_of.items():
        if line in comments:
            docs[name] = comments[line]
            continue
        pending = []
        above = line - 1
        while above in own_line and not comments[above].startswith('---'):
            pending.insert(0, comments[above])
            above -= 1
        if pending:
            docs[name] = ' '.join(pending)
    for f in fields(cls):
        if f.metadata and f.metadata.get('help'):
            docs[f.name] = f.metadata['help']
    return docs

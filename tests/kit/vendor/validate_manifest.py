"""Validate a Slack app manifest (YAML or JSON) against Slack's published manifest schema, offline.

usage: python validate_manifest.py manifest.yml [more.yml ...]
needs: jsonschema, pyyaml
The schema (manifest.schema.json beside this file, version 1.0.0 from slackapi/manifest-schema,
MIT licence in manifest.schema.LICENSE) checks structure only: a misspelled scope still passes.
Exit status: 0 when every file is valid, 1 otherwise.
"""

import json
import sys
from pathlib import Path

import yaml
from jsonschema import Draft7Validator

SCHEMA = json.loads((Path(__file__).resolve().parent / "manifest.schema.json").read_text())


def errors(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    manifest = yaml.safe_load(text) if path.suffix in (".yml", ".yaml") else json.loads(text)
    found = Draft7Validator(SCHEMA).iter_errors(manifest)
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in found]


if __name__ == "__main__":
    bad = 0
    for name in sys.argv[1:]:
        problems = errors(Path(name))
        bad += bool(problems)
        print(f"{name}: {'valid' if not problems else 'INVALID'}")
        for p in problems:
            print(f"  {p}")
    sys.exit(1 if bad or len(sys.argv) < 2 else 0)

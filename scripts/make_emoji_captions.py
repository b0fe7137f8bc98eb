#!/usr/bin/env python3
"""Write an image–caption folder for M3AE (`tessera pretrain --data captions:DIR`) from the npm
package `emoji-datasource-google` (Noto emoji, Apache-2.0): every base emoji that has a Google
image, its 64x64 PNG copied to DIR/images/, and one line per emoji in DIR/captions.jsonl:

  {"image": "images/1f600.png", "caption": "grinning face (smileys & emotion: face smiling)"}

The caption is the emoji's Unicode name, lower case, with its category and subcategory, all
from the package's emoji.json. Skin-tone variants are left out (they share their base's name).

Get the package with `npm pack emoji-datasource-google@16.0.0` and untar it.

Usage: make_emoji_captions.py PACKAGE_DIR OUT_DIR
"""
import json
import os
import shutil
import sys


def main():
    pkg, out = sys.argv[1], sys.argv[2]
    entries = json.load(open(os.path.join(pkg, "emoji.json")))
    os.makedirs(os.path.join(out, "images"), exist_ok=True)
    lines = []
    for e in sorted(entries, key=lambda e: e["sort_order"]):
        src = os.path.join(pkg, "img", "google", "64", e["image"])
        if not e.get("has_img_google") or not os.path.exists(src) or not e.get("name"):
            continue
        shutil.copyfile(src, os.path.join(out, "images", e["image"]))
        sub = e["subcategory"].replace("-", " ")
        caption = f"{e['name'].lower()} ({e['category'].lower()}: {sub})"
        lines.append(json.dumps({"image": f"images/{e['image']}", "caption": caption}))
    with open(os.path.join(out, "captions.jsonl"), "w") as f:
        f.write("\n".join(lines) + "\n")
    shutil.copyfile(os.path.join(pkg, "LICENSE"), os.path.join(out, "LICENSE.package"))
    print(f"{out}: {len(lines)} pairs")


main()

"""kit verify: check that a published site's checkpoints were only ever extended."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kit import merkle
from kit.errors import KitError
from kit.fingerprint import FORMAT, PUBLISHED_DIR, hash_bytes


@dataclass(frozen=True)
class Verdict:
    checkpoints: int
    notes: tuple[str, ...]  # declared rewrites and what was checked
    broken: str | None  # the first break, in words


def reader(location: str) -> Callable[[str], bytes | None]:
    """Read files of a site folder or of a site on the web (None when a file is absent)."""
    if location.startswith(("http://", "https://")):
        base = location if location.endswith("/") else location + "/"

        def fetch(name: str) -> bytes | None:
            try:
                with urllib.request.urlopen(base + name, timeout=15) as response:
                    return response.read()
            except urllib.error.HTTPError as exc:
                if exc.code == 404:
                    return None
                raise KitError(f"读取 {base + name} 出错：{exc}") from None
            except (urllib.error.URLError, TimeoutError, OSError) as exc:
                raise KitError(f"连不上 {base}（{exc}）。") from None

        return fetch
    folder = Path(location)
    if not folder.is_dir():
        raise KitError(f"找不到网站文件夹“{folder}”。")
    return lambda name: (folder / name).read_bytes() if (folder / name).is_file() else None


def verify_site(read: Callable[[str], bytes | None]) -> Verdict:
    raw = read(f"{PUBLISHED_DIR}/checkpoints.json")
    if raw is None:
        raise KitError("这个网站没有账本指纹（ledger/checkpoints.json），无法核对。")
    try:
        data = json.loads(raw.decode("utf-8"))
        checkpoints, written = data["checkpoints"], data.get("format", FORMAT)
    except (ValueError, KeyError, UnicodeDecodeError, AttributeError) as exc:
        raise KitError(f"账本指纹文件无法读取（{exc}）。") from None
    notes = []
    if checkpoints and (checkpoints[0].get("number") != 1 or checkpoints[0].get("previous") is not None):
        return Verdict(len(checkpoints), (), f"最早的是第 {checkpoints[0].get('number')} 号指纹，"
                                             "前面的指纹不见了：历史被截掉过。")
    for before, after in zip(checkpoints, checkpoints[1:]):
        where = f"第 {after['number']} 号指纹（{after['date']}）"
        if after.get("number") != before.get("number", 0) + 1:
            return Verdict(len(checkpoints), tuple(notes), f"{where}前面缺了指纹：编号不连续。")
        previous = {"size": before["size"], "root": before["root"]}
        if after.get("rewrite"):
            if after["rewrite"].get("replaced") != previous:
                return Verdict(len(checkpoints), tuple(notes), f"{where}声明重写，但它替换的不是上一个指纹。")
            notes.append(f"{where}声明重写了历史：{after['rewrite'].get('reason', '')}")
            continue
        if after.get("note"):
            notes.append(f"{where}声明：{after['note']}")
        if after.get("previous") != previous:
            return Verdict(len(checkpoints), tuple(notes), f"{where}记录的上一个指纹和实际的上一个指纹不一致。")
        try:
            proof = [hash_bytes(p, written) for p in after.get("consistency", [])]
            consistent = merkle.verify_consistency(before["size"], after["size"], hash_bytes(before["root"], written),
                                                   hash_bytes(after["root"], written), proof)
        except (ValueError, TypeError):
            consistent = False
        if not consistent:
            return Verdict(len(checkpoints), tuple(notes),
                           f"{where}不是第 {before['number']} 号指纹的延续：已公示的记录被修改或删除过。")
    leaves_raw = read(f"{PUBLISHED_DIR}/leaves.txt")
    if leaves_raw is not None and checkpoints:
        last = checkpoints[-1]
        try:
            leaves = [hash_bytes(line, written) for line in leaves_raw.decode("ascii").split()]
            whole = len(leaves) == last["size"] and merkle.root(leaves) == hash_bytes(last["root"], written)
        except (ValueError, UnicodeDecodeError):
            whole = False
        if not whole:
            return Verdict(len(checkpoints), tuple(notes), "leaves.txt 里的叶子算不出最新的指纹。")
        notes.append(f"leaves.txt 的 {len(leaves)} 个叶子和最新指纹一致")
    return Verdict(len(checkpoints), tuple(notes), None)

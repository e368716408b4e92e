"""kit.merkle against RFC 9162 section 2.1, checked by a direct transcription of the RFC.

The reference functions below follow the RFC's recursive definitions word for word
(MTH, PATH, PROOF/SUBPROOF), independently of the kit's iterative Tree; the known
answers come from the Certificate Transparency test vectors (RFC 6962 leaves
"", 00, 10, 2021, 3031, 40414243, 5051525354555657, 606162…6f).
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kit import merkle


# --------------------------------------------------------------------------- the RFC, transcribed


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def largest_power_below(n: int) -> int:
    """k: the largest power of two smaller than n (n > 1)."""
    k = 1
    while k << 1 < n:
        k <<= 1
    return k


def mth(entries: list[bytes]) -> bytes:
    """MTH(D[n]) over the raw entries (not their leaf hashes)."""
    n = len(entries)
    if n == 0:
        return sha(b"")
    if n == 1:
        return sha(b"\x00" + entries[0])
    k = largest_power_below(n)
    return sha(b"\x01" + mth(entries[:k]) + mth(entries[k:]))


def ref_path(m: int, entries: list[bytes]) -> list[bytes]:
    """PATH(m, D[n])."""
    n = len(entries)
    if n == 1:
        return []
    k = largest_power_below(n)
    if m < k:
        return ref_path(m, entries[:k]) + [mth(entries[k:])]
    return ref_path(m - k, entries[k:]) + [mth(entries[:k])]


def ref_subproof(m: int, entries: list[bytes], b: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b)."""
    n = len(entries)
    if m == n:
        return [] if b else [mth(entries)]
    k = largest_power_below(n)
    if m <= k:
        return ref_subproof(m, entries[:k], b) + [mth(entries[k:])]
    return ref_subproof(m - k, entries[k:], False) + [mth(entries[:k])]


def ref_proof(m: int, entries: list[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) for 0 < m < n."""
    return ref_subproof(m, entries, True)


def entries_of(n: int, tag: bytes = b"e") -> list[bytes]:
    return [tag + i.to_bytes(4, "big") for i in range(n)]


def leaves_of(entries: list[bytes]) -> list[bytes]:
    return [merkle.leaf_hash(e) for e in entries]


def flip(value: bytes, at: int = 0) -> bytes:
    return value[:at] + bytes([value[at] ^ 0x01]) + value[at + 1:]


# --------------------------------------------------------------------------- hashing and roots


def test_leaf_and_node_hashes_have_distinct_prefixes():
    for data in (b"", b"\x00", b"abc", bytes(range(256))):
        assert merkle.leaf_hash(data) == hashlib.sha256(b"\x00" + data).digest()
    left, right = sha(b"left"), sha(b"right")
    assert merkle.node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()
    assert merkle.node_hash(left, right) != merkle.node_hash(right, left)
    # a node can never pass for a leaf of the same 64 bytes
    assert merkle.node_hash(left, right) != merkle.leaf_hash(left + right)


def test_known_answers_from_the_ct_test_vectors():
    assert merkle.root([]).hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert merkle.root([]) == hashlib.sha256(b"").digest()
    assert merkle.leaf_hash(b"").hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    data = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                      "606162636465666768696a6b6c6d6e6f")]
    roots = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]
    for n in range(1, 9):
        leaves = leaves_of(data[:n])
        assert merkle.root(leaves).hex() == roots[n - 1], n
        assert merkle.Tree(leaves).root.hex() == roots[n - 1], n
        assert mth(data[:n]).hex() == roots[n - 1], n  # the reference agrees with the vectors too


def test_small_trees_by_hand():
    a, b, c = (merkle.leaf_hash(x) for x in (b"a", b"b", b"c"))
    assert merkle.root([a]) == a
    assert merkle.root([a, b]) == sha(b"\x01" + a + b)
    # n = 3 splits 2 + 1: the odd leaf rises unchanged and is hashed at the top
    assert merkle.root([a, b, c]) == sha(b"\x01" + sha(b"\x01" + a + b) + c)


@pytest.mark.parametrize("n", range(0, 71))
def test_root_is_the_rfc_mth(n):
    entries = entries_of(n)
    leaves = leaves_of(entries)
    expected = mth(entries)
    assert merkle.root(leaves) == expected
    assert merkle.Tree(leaves).root == expected


# --------------------------------------------------------------------------- inclusion


@pytest.mark.parametrize("n", range(1, 71))
def test_tree_path_is_the_rfc_path_and_verifies(n):
    entries = entries_of(n)
    leaves = leaves_of(entries)
    tree = merkle.Tree(leaves)
    root = mth(entries)
    for m in range(n):
        proof = merkle.inclusion_proof(m, leaves)
        assert proof == ref_path(m, entries), (n, m)
        assert tree.path(m) == proof, (n, m)
        assert merkle.verify_inclusion(leaves[m], m, n, proof, root), (n, m)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 17, 31, 33, 70])
def test_tampered_inclusion_proofs_fail(n):
    entries = entries_of(n)
    leaves = leaves_of(entries)
    root = merkle.root(leaves)
    for m in range(n):
        proof = merkle.inclusion_proof(m, leaves)
        leaf = leaves[m]
        assert merkle.verify_inclusion(leaf, m, n, proof, root)
        # a changed sibling, anywhere on the path, in any byte
        for i in range(len(proof)):
            for at in (0, 31):
                changed = proof[:i] + [flip(proof[i], at)] + proof[i + 1:]
                assert not merkle.verify_inclusion(leaf, m, n, changed, root), (n, m, i, at)
        # another leaf, a changed leaf, a wrong root
        assert not merkle.verify_inclusion(flip(leaf), m, n, proof, root)
        assert not merkle.verify_inclusion(merkle.leaf_hash(entries[m] + b"x"), m, n, proof, root)
        assert not merkle.verify_inclusion(leaf, m, n, proof, flip(root, 5))
        # the wrong index
        for other in range(n):
            if other != m:
                assert not merkle.verify_inclusion(leaf, other, n, proof, root), (n, m, other)
        assert not merkle.verify_inclusion(leaf, n, n, proof, root)
        assert not merkle.verify_inclusion(leaf, n + 5, n, proof, root)
        # the wrong size: against the root of a tree of that size the proof never holds; against
        # this root it fails whenever that size gives the leaf a path of another length (the RFC
        # binds the size to the root through the signed checkpoint, not through the path)
        for size in (n - 1, n + 1, n + 2, 2 * n, 4 * n):
            if size > m and size != n:
                bigger = entries_of(size)
                assert not merkle.verify_inclusion(leaf, m, size, proof, mth(bigger)), (n, m, size)
                if len(ref_path(m, bigger)) != len(proof):
                    assert not merkle.verify_inclusion(leaf, m, size, proof, root), (n, m, size)
        assert not merkle.verify_inclusion(leaf, m, 4 * n, proof, root), (n, m)
        # a truncated or lengthened path
        if proof:
            assert not merkle.verify_inclusion(leaf, m, n, proof[:-1], root), (n, m)
            assert not merkle.verify_inclusion(leaf, m, n, proof[1:], root), (n, m)
        assert not merkle.verify_inclusion(leaf, m, n, proof + [root], root), (n, m)
        assert not merkle.verify_inclusion(leaf, m, n, proof + [proof[-1] if proof else leaf], root), (n, m)
        # a proof of another leaf
        if n > 1:
            other = (m + 1) % n
            assert not merkle.verify_inclusion(leaf, m, n, merkle.inclusion_proof(other, leaves), root), (n, m)


def test_a_node_cannot_be_proved_as_a_leaf():
    """Whoever presents the two child hashes of an inner node as a record's data gets a
    leaf hash (0x00 prefix) that is not that node (0x01 prefix): no second preimage."""
    leaves = leaves_of(entries_of(4))
    root = merkle.root(leaves)
    inner = merkle.node_hash(leaves[0], leaves[1])
    upper = merkle.node_hash(leaves[2], leaves[3])
    assert merkle.node_hash(inner, upper) == root
    assert merkle.verify_inclusion(inner, 0, 2, [upper], root)  # what the prefixes are there to prevent
    forged = merkle.leaf_hash(leaves[0] + leaves[1])
    assert forged != inner
    for index in range(4):
        for size in range(index + 1, 5):
            assert not merkle.verify_inclusion(forged, index, size, [upper], root)
            assert not merkle.verify_inclusion(forged, index, size, [leaves[1], upper], root)


# --------------------------------------------------------------------------- consistency


ALL_PAIRS = [(m, n) for n in range(1, 41) for m in range(1, n + 1)]


def test_consistency_proofs_are_the_rfc_proofs_and_verify():
    entries = entries_of(40)
    leaves = leaves_of(entries)
    roots = [merkle.root(leaves[:n]) for n in range(41)]
    for m, n in ALL_PAIRS:
        proof = merkle.consistency_proof(m, leaves[:n])
        assert proof == ([] if m == n else ref_proof(m, entries[:n])), (m, n)
        assert merkle.verify_consistency(m, n, roots[m], roots[n], proof), (m, n)
    # from the empty tree, any tree follows with an empty proof
    for n in range(0, 41):
        assert merkle.consistency_proof(0, leaves[:n]) == []
        assert merkle.verify_consistency(0, n, roots[0], roots[n], [])


def test_tampered_consistency_proofs_fail():
    entries = entries_of(40)
    leaves = leaves_of(entries)
    roots = [merkle.root(leaves[:n]) for n in range(41)]
    for m, n in ALL_PAIRS:
        proof = merkle.consistency_proof(m, leaves[:n])
        # an old leaf changed: the new tree does not extend that old tree
        for changed_at in {0, m // 2, m - 1}:
            rewritten = list(leaves[:n])
            rewritten[changed_at] = merkle.leaf_hash(b"rewritten")
            new_root = merkle.root(rewritten)
            assert not merkle.verify_consistency(m, n, roots[m], new_root, proof), (m, n, changed_at)
            assert not merkle.verify_consistency(
                m, n, roots[m], new_root, merkle.consistency_proof(m, rewritten)), (m, n, changed_at)
        # a wrong old root or new root
        assert not merkle.verify_consistency(m, n, flip(roots[m], 7), roots[n], proof), (m, n)
        assert not merkle.verify_consistency(m, n, roots[m], flip(roots[n], 7), proof), (m, n)
        if m > 1:
            assert not merkle.verify_consistency(m, n, roots[m - 1], roots[n], proof), (m, n)
        # swapped or changed proof elements, a truncated or lengthened proof
        for i in range(len(proof) - 1):
            if proof[i] != proof[i + 1]:
                swapped = proof[:i] + [proof[i + 1], proof[i]] + proof[i + 2:]
                assert not merkle.verify_consistency(m, n, roots[m], roots[n], swapped), (m, n, i)
        for i in range(len(proof)):
            changed = proof[:i] + [flip(proof[i], 3)] + proof[i + 1:]
            assert not merkle.verify_consistency(m, n, roots[m], roots[n], changed), (m, n, i)
        if proof:
            assert not merkle.verify_consistency(m, n, roots[m], roots[n], proof[:-1]), (m, n)
            if len(proof) > 1:
                assert not merkle.verify_consistency(m, n, roots[m], roots[n], proof[::-1]), (m, n)
        assert not merkle.verify_consistency(m, n, roots[m], roots[n], proof + [roots[n]]), (m, n)
        # m > n: a shrinking log is never consistent
        if m < n:
            assert not merkle.verify_consistency(n, m, roots[n], roots[m], proof), (m, n)
            # a proof for another new size
            if n + 1 <= 40:
                assert not merkle.verify_consistency(m, n + 1, roots[m], roots[n + 1], proof), (m, n)
        else:  # m == n: only the same root and no proof
            assert not merkle.verify_consistency(m, n, roots[m], flip(roots[m]), []), m
            assert not merkle.verify_consistency(m, n, roots[m], roots[m], [roots[m]]), m
    assert not merkle.verify_consistency(5, 4, roots[5], roots[4], [])
    assert not merkle.verify_consistency(41, 40, roots[40], roots[40], [])


# --------------------------------------------------------------------------- properties


@settings(max_examples=150, deadline=None)
@given(entries=st.lists(st.binary(max_size=8), min_size=1, max_size=90), data=st.data())
def test_properties_match_the_rfc(entries, data):
    leaves = leaves_of(entries)
    n = len(leaves)
    root = merkle.root(leaves)
    assert root == mth(entries) == merkle.Tree(leaves).root
    m = data.draw(st.integers(0, n - 1), label="index")
    proof = merkle.inclusion_proof(m, leaves)
    assert proof == merkle.Tree(leaves).path(m) == ref_path(m, entries)
    assert merkle.verify_inclusion(leaves[m], m, n, proof, root)
    if proof:
        i = data.draw(st.integers(0, len(proof) - 1), label="tampered element")
        assert not merkle.verify_inclusion(leaves[m], m, n, proof[:i] + [flip(proof[i])] + proof[i + 1:], root)
    old = data.draw(st.integers(1, n), label="old size")
    consistency = merkle.consistency_proof(old, leaves)
    old_root = merkle.root(leaves[:old])
    assert consistency == ([] if old == n else ref_proof(old, entries))
    assert merkle.verify_consistency(old, n, old_root, root, consistency)
    if old < n:
        changed = data.draw(st.integers(0, old - 1), label="changed old leaf")
        rewritten = list(leaves)
        rewritten[changed] = merkle.leaf_hash(entries[changed] + b"!")
        assert not merkle.verify_consistency(old, n, old_root, merkle.root(rewritten),
                                             merkle.consistency_proof(old, rewritten))
        assert not merkle.verify_consistency(n, old, root, old_root, consistency)

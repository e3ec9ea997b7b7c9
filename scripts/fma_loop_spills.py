#!/usr/bin/env python3
"""Lists the innermost loops of FMA instructions that touch the stack.

A micro-kernel's k loop must keep its accumulators, panel vectors and row
pointers in registers: a stack operand there is a spill, and costs a
store-to-load round trip on every step. This reads `objdump -d` of a binary
(default: the release CLI), finds every innermost backward-jump loop that
contains a `vfmadd`/`fmla` instruction, and prints those with an `rsp`/`sp`
operand. Exit status 1 when there is one, or when a kernel calls a SIMD
intrinsic rather than inlining it (see the end).

A backward jump that spans more than MAX_K_LOOP instructions is a loop over
row tiles, not a k loop: kernels walk a call's row tiles themselves, and such
a range holds a tile's set-up, epilogue and a peeled k step, while its k loop
sits elsewhere in the layout. So is a loop that stores a vector register
outside the stack: a k loop stores nothing, so it writes a tile's outputs
(the dot kernels' walks unroll their k steps inside such a loop, and keep
the AVX2 kernel's split weight columns on the stack by design). Per-tile
reloads there are expected; these loops are counted apart, not checked, and
a short one that stores to the stack is listed (a spill once per tile). So are loops of one FMA (one-row,
one-vector tiles): one dependent chain, bound by the FMA latency, which a
stack operand does not lengthen.

    cargo build --release && python3 scripts/fma_loop_spills.py [BINARY] [SYMBOL-SUBSTRING]
"""
import re
import subprocess
import sys

binary = sys.argv[1] if len(sys.argv) > 1 else "target/release/pointwise"
symbol = sys.argv[2] if len(sys.argv) > 2 else "pointwise_kernels"
text = subprocess.run(["objdump", "-d", "--no-show-raw-insn", "-C", binary], capture_output=True, text=True, check=True).stdout

functions = {}
current = None
for line in text.splitlines():
    header = re.match(r"^[0-9a-f]+ <(.*)>:$", line)
    if header:
        current = header.group(1) if symbol in header.group(1) else None
        if current:
            functions[current] = []
        continue
    insn = re.match(r"\s*([0-9a-f]+):\s*(.*)", line)
    if current and insn:
        functions[current].append((int(insn.group(1), 16), insn.group(2)))

# The largest k loop body is about 50 instructions (12x32 AVX-512: 24 FMAs,
# 12 broadcasts, 2 panel loads, the index and the branch); the smallest loop
# over row tiles is several hundred.
MAX_K_LOOP = 400

clean = spilled = tile_loops = tile_spills = single_chains = 0
for name, insns in functions.items():
    index = {address: i for i, (address, _) in enumerate(insns)}
    loops = []
    for i, (address, insn) in enumerate(insns):
        jump = re.match(r"(j\w+|b\.\w+|b|cbn?z|tbn?z)\s+.*?([0-9a-f]+)\s*<", insn)
        if jump and int(jump.group(2), 16) < address and int(jump.group(2), 16) in index:
            loops.append((index[int(jump.group(2), 16)], i))
    inner = [(s, e) for s, e in loops if not any(s <= s2 and e2 <= e and (s2, e2) != (s, e) for s2, e2 in loops)]
    for s, e in inner:
        body = [insn for _, insn in insns[s : e + 1]]
        if not any("vfmadd" in b or "fmla" in b for b in body):
            continue
        # A k loop stores nothing: a loop that stores a vector register
        # outside the stack writes a tile's outputs, so it walks row tiles
        # (the dot kernels unroll their k steps inside such a loop).
        stores_output = any(re.match(r"v?mov\w*\s+%[xyz]mm\d+,.*\(", b) and "%rsp" not in b for b in body)
        if len(body) > MAX_K_LOOP:
            tile_loops += 1
            continue
        if stores_output:
            # Such a short loop over row tiles may load from the stack (the
            # AVX2 dot walk's split weight columns). A store there is a spill
            # once per tile, not once per k step: listed, not failed.
            tile_loops += 1
            stack_stores = [b for b in body if re.match(r"v?mov\w*\s+%\w+,.*\(%rsp\)", b)]
            if stack_stores:
                tile_spills += 1
                print(f"{name} @ {insns[s][0]:x}: a loop over row tiles of {len(body)} instructions spills once per tile: {stack_stores[:4]}")
            continue
        if sum("vfmadd" in b or "fmla" in b for b in body) == 1:
            single_chains += 1
            continue
        stack = [b for b in body if re.search(r"%rsp|\[sp", b)]
        if stack:
            spilled += 1
            print(f"{name} @ {insns[s][0]:x}: {len(body)} instructions, stack operands: {stack[:4]}")
        else:
            clean += 1
print(
    f"innermost FMA loops: {clean} spill-free, {spilled} touching the stack (not checked: {tile_loops} loops over row tiles, "
    f"{tile_spills} of them spilling once per tile, {single_chains} of one FMA)"
)

# A SIMD intrinsic called (or tail-called) rather than inlined: code that LLVM kept apart from
# the kernel (a closure of a generic helper, say) has none of the kernel's
# target features, so each intrinsic in it becomes a call. A 6x16 walk whose
# step closure was kept apart ran 20 times slower, with no spill to show it.
outlined = sorted(
    {
        f"{name}: {m.group(1)}"
        for name, insns in functions.items()
        for _, insn in insns
        if (m := re.search(r"(?:callq?|jmpq?)\s+\w+ <(core::core_arch::(?:x86|aarch64|arm_shared)::(?!xsave)[^>]*)>", insn))
    }
)
for line in outlined:
    print(f"intrinsic called out of line: {line}")
print(f"SIMD intrinsics called out of line from the kernels: {len(outlined)}")
sys.exit(1 if spilled or outlined else 0)

#!/usr/bin/env python3
"""Writes docs/results.md from the runs scripts/reproduce.sh trained and from lab compare's files.

Every figure in the page comes from a run folder: summary.json (final validation metrics, cost,
provenance), eval/seq_len-N.json (length extrapolation) and comparison/comparison.json (lab
compare's statistics, which this script recomputes and checks before it uses them). The answers
are chosen by rules stated in the page, so that a rerun on other hardware rewrites them honestly.
"""
import argparse
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

ALPHA = 0.05
# Variants in the order the write-ups introduce them (lab compare sorts by name).
ORDER = {
    "exp1_deepseek_attention": ["baseline", "lora", "flash", "rope_scaling", "full"],
    "exp1_20_steps": ["baseline", "lora", "full"],
    "exp1_rope_extrapolation": ["rope.plugin-rope", "rope.plugin-rope_linear", "rope.plugin-rope_ntk", "rope.plugin-yarn"],
    "exp3_advanced_attention": ["baseline", "q_lora", "flash", "mixed_heads", "advanced_rope", "hybrid"],
    "exp4_dsa": ["sparse.plugin-none", "sparse.plugin-dsa"],
    "exp4_dsa_2048": ["sparse.plugin-none", "sparse.plugin-dsa"],
    "exp6_flash_vs_baseline": ["baseline", "flash"],
}


# ---------------------------------------------------------------- statistics (no numpy here)
def _betacf(a, b, x):
    """Continued fraction of the regularised incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)), -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def betainc(a, b, x):
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    ln = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log(1 - x)
    if x < (a + 1) / (a + b + 2):
        return math.exp(ln) * _betacf(a, b, x) / a
    return 1.0 - math.exp(ln) * _betacf(b, a, 1 - x) / b


def t_two_sided_p(t, df):
    return betainc(df / 2.0, 0.5, df / (df + t * t))


def t_quantile_975(df):
    lo, hi = 0.0, 100.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if t_two_sided_p(mid, df) > 0.05:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def summary(xs):
    n = len(xs)
    mean = statistics.fmean(xs)
    sd = statistics.stdev(xs) if n > 1 else None
    half = t_quantile_975(n - 1) * sd / math.sqrt(n) if n > 1 else None
    return {"n": n, "mean": mean, "sd": sd, "ci95_half": half}


def welch(a, b):
    """Welch's two-sided t-test of mean(b) - mean(a) and Cohen's d with the pooled sd."""
    if len(a) < 2 or len(b) < 2:
        return None
    va, vb = statistics.variance(a), statistics.variance(b)
    diff = statistics.fmean(b) - statistics.fmean(a)
    se2 = va / len(a) + vb / len(b)
    pooled = math.sqrt(((len(a) - 1) * va + (len(b) - 1) * vb) / (len(a) + len(b) - 2))
    d = diff / pooled if pooled > 0 else None
    if se2 == 0:
        return {"diff": diff, "t": None, "df": None, "p": None, "d": d, "ci95": None}
    t = diff / math.sqrt(se2)
    df = se2**2 / ((va / len(a)) ** 2 / (len(a) - 1) + (vb / len(b)) ** 2 / (len(b) - 1))
    half = t_quantile_975(df) * math.sqrt(se2)
    return {"diff": diff, "t": t, "df": df, "p": t_two_sided_p(t, df), "d": d, "ci95": (diff - half, diff + half)}


def holm(tests):
    """Holm-Bonferroni adjusted p values of a family of tests (name -> welch result)."""
    ranked = sorted((w["p"], n) for n, w in tests.items() if w and w["p"] is not None)
    adjusted, running = {}, 0.0
    for i, (p, n) in enumerate(ranked):
        running = max(running, min(1.0, (len(ranked) - i) * p))
        adjusted[n] = running
    return adjusted


# ---------------------------------------------------------------- runs
class Variant:
    def __init__(self, name, runs):
        self.name = name
        self.runs = runs  # list of (folder, summary)

    def values(self, key):
        out = []
        for _, s in self.runs:
            v = s["final"][key] if key.startswith("val_") else s[key]
            out.append(float(v))
        return out

    def stat(self, key):
        return summary(self.values(key))

    @property
    def summaries(self):
        return [s for _, s in self.runs]


class Experiment:
    def __init__(self, root, name):
        self.name = name
        self.folder = root / name
        cmp_file = self.folder / "comparison" / "comparison.json"
        if not cmp_file.exists():
            raise SystemExit(f"results.py: {cmp_file}: missing; run scripts/reproduce.sh first")
        self.comparison = json.loads(cmp_file.read_text())
        self.baseline = self.comparison["baseline"]
        self.variants = {}
        for v in self.comparison["variants"]:
            runs = []
            for r in v["runs"]:
                folder = Path(r)
                runs.append((folder, json.loads((folder / "summary.json").read_text())))
            runs.sort(key=lambda fs: fs[1]["seed"])
            self.variants[v["name"]] = Variant(v["name"], runs)
        order = ORDER.get(name, [])
        rank = lambda n: order.index(n) if n in order else len(order)
        self.variants = dict(sorted(self.variants.items(), key=lambda item: (rank(item[0]), item[0])))
        self.check_against_lab()
        self.bench = self.read_bench()
        self.holm = holm({n: welch(self.variant(self.baseline).values("val_loss"), v.values("val_loss"))
                          for n, v in self.variants.items() if n != self.baseline})

    def check_against_lab(self):
        """lab compare and this script must agree on every mean and test before either is quoted."""
        base = self.variants[self.baseline].values("val_loss")
        for v in self.comparison["variants"]:
            mine = self.variants[v["name"]].values("val_loss")
            if not math.isclose(statistics.fmean(mine), v["val_loss"]["mean"], rel_tol=1e-9):
                raise SystemExit(f"results.py: {self.name}/{v['name']}: mean validation loss disagrees with lab compare")
            vs = v.get("vs_baseline", {}).get("val_loss")
            w = welch(base, mine)
            if vs and w and vs.get("welch") and w["p"] is not None:
                if not math.isclose(w["p"], vs["welch"]["p"], rel_tol=1e-4, abs_tol=1e-9):
                    raise SystemExit(
                        f"results.py: {self.name}/{v['name']}: Welch p {w['p']:.6g} disagrees with lab compare's "
                        f"{vs['welch']['p']:.6g}"
                    )

    def read_bench(self):
        """Rounds of interleaved lab bench runs (reproduce.sh): {round: {variant: bench JSON}}."""
        f = self.folder / "bench.jsonl"
        rounds = {}
        if f.exists():
            for line in f.read_text().splitlines():
                if line.strip():
                    row = json.loads(line)
                    rounds.setdefault(row["round"], {})[row["variant"]] = row["bench"]
        return rounds

    def bench_tokens_per_s(self, name):
        xs = [r[name]["tokens_per_s"] for r in self.bench.values() if name in r]
        return statistics.median(xs) if xs else None

    def bench_ratio(self, base, other):
        """Median over the rounds of other's tokens/s over base's in the same round, and the range."""
        xs = [r[other]["tokens_per_s"] / r[base]["tokens_per_s"] for r in self.bench.values() if base in r and other in r]
        return (statistics.median(xs), min(xs), max(xs), len(xs)) if xs else None

    def variant(self, name):
        if name not in self.variants:
            raise SystemExit(f"results.py: {self.name}: no variant {name}")
        return self.variants[name]

    def all_summaries(self):
        return [s for v in self.variants.values() for s in v.summaries]


# ---------------------------------------------------------------- formatting
def pm(s, f="%.4f"):
    if s["sd"] is None:
        return (f % s["mean"]) + " (1 seed)"
    return f"{f % s['mean']} ± {f % s['sd']} [{f % (s['mean'] - s['ci95_half'])}, {f % (s['mean'] + s['ci95_half'])}]"


def verdict(w, lower_is_better=True, what="validation loss", p_holm=None):
    """The finding of one test; with p_holm (the family-wise adjusted p) the decision uses it."""
    if w is None or w["p"] is None:
        return f"{what}: not testable (fewer than 2 seeds or no spread)"
    p = w["p"] if p_holm is None else p_holm
    lo, hi = w["ci95"]
    shown = f"95% CI of Δ [{lo:+.4f}, {hi:+.4f}], p = {w['p']:.2g}" + (
        "" if p_holm is None else f", Holm-adjusted {p_holm:.2g}"
    )
    if p >= ALPHA:
        return f"no detectable difference in {what} (Δ {w['diff']:+.4f}, {shown}, d = {w['d']:+.2f})"
    better = (w["diff"] < 0) == lower_is_better
    return f"{what} {'better' if better else 'worse'} by {abs(w['diff']):.4f} ({shown}, d = {w['d']:+.2f})"


def ratio(a, b):
    return statistics.fmean(b) / statistics.fmean(a)


def cost_sentence(exp, base, other):
    measured = exp.bench_ratio(base.name, other.name)
    if measured:
        median, low, high, n = measured
        tps = f"{median:.2f}× the tokens/s (interleaved lab bench, median of {n} rounds, {low:.2f}–{high:.2f})"
    else:
        tps = f"{ratio(base.values('tokens_per_s'), other.values('tokens_per_s')):.2f}× the tokens/s (training runs)"
    mem = ratio(base.values("peak_memory_mb"), other.values("peak_memory_mb"))
    act = other.summaries[0]["parameters"]["active_per_token"] / base.summaries[0]["parameters"]["active_per_token"]
    return f"{tps}, {mem:.2f}× the peak memory and {act:.2f}× the active parameters of `{base.name}`"


def compare_line(exp, base_name, other_name):
    base, other = exp.variant(base_name), exp.variant(other_name)
    w = welch(base.values("val_loss"), other.values("val_loss"))
    adjusted = exp.holm.get(other_name) if base_name == exp.baseline and len(exp.holm) > 1 else None
    return f"`{other_name}` against `{base_name}`: {verdict(w, p_holm=adjusted)}; {cost_sentence(exp, base, other)}"


def table(exp):
    base = exp.variant(exp.baseline)
    rows = [
        "| variant | seeds | val loss: mean ± sd [95% CI] | Δ vs baseline | Welch p (Holm) | Cohen's d | val accuracy "
        "| val perplexity | params total / active (M) | tokens/s: bench (runs) | peak memory (MB) | wall time (s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, v in exp.variants.items():
        w = None if name == exp.baseline else welch(base.values("val_loss"), v.values("val_loss"))
        p = lambda k, f="%.0f": pm(v.stat(k), f).split(" [")[0]
        params = v.summaries[0]["parameters"]
        rows.append(
            "| "
            + " | ".join(
                [
                    f"`{name}`" + (" (baseline)" if name == exp.baseline else ""),
                    ", ".join(str(s["seed"]) for s in v.summaries),
                    pm(v.stat("val_loss")),
                    "" if w is None else f"{w['diff']:+.4f}",
                    "" if w is None or w["p"] is None else f"{w['p']:.2g} ({exp.holm[name]:.2g})",
                    "" if w is None or w["d"] is None else f"{w['d']:+.2f}",
                    p("val_accuracy", "%.4f"),
                    "%.1f" % math.exp(v.stat("val_loss")["mean"]),
                    f"{params['total'] / 1e6:.2f} / {params['active_per_token'] / 1e6:.2f}",
                    ("" if exp.bench_tokens_per_s(name) is None else f"{exp.bench_tokens_per_s(name):.0f} ")
                    + f"({p('tokens_per_s')})",
                    p("peak_memory_mb"),
                    p("wall_seconds", "%.1f"),
                ]
            )
            + " |"
        )
    return "\n".join(rows)


def provenance(exp, preset):
    ss = exp.all_summaries()
    revs = sorted({s.get("git_revision", "?") for s in ss})
    torch = sorted({s.get("libtorch", "?") for s in ss})
    threads = sorted({str(s.get("threads", "?")) for s in ss})
    devices = sorted({s.get("device", "?") for s in ss})
    blas = sorted({f"{s['blas'].get('library', '?')} {s['blas'].get('core', '?')}" for s in ss if "blas" in s})
    return (
        f"Runs: {len(ss)} · preset `{preset}` · commit {', '.join(revs)} · LibTorch {', '.join(torch)} · "
        f"device {', '.join(devices)}, {', '.join(threads)} threads · BLAS {', '.join(blas) or 'unrecorded'}"
    )


def copy_plots(exp, out_dir):
    dest = out_dir / "results" / exp.name
    dest.mkdir(parents=True, exist_ok=True)
    shown = []
    for png, title in (("val_loss_vs_step.png", "against step"), ("val_loss_vs_time.png", "against wall time")):
        src = exp.folder / "comparison" / png
        if src.exists():
            shutil.copyfile(src, dest / png)
            shown.append(f"![validation loss {title}](results/{exp.name}/{png})")
    return "\n".join(shown) if shown else "(no plots: gnuplot was not installed when lab compare ran)"


# ---------------------------------------------------------------- the experiments' questions
def exp1_answers(exp, extra):
    rope = extra.get("exp1_rope_extrapolation")
    out = [
        "1. **Do LoRA projections improve efficiency without hurting performance?** "
        + compare_line(exp, "baseline", "lora")
        + ".",
        "2. **Does Flash Attention provide memory benefits?** The `flash` variant differs from `lora` only in "
        "its kernel: " + compare_line(exp, "lora", "flash") + ". On this CPU the peak is the process's resident "
        "set, dominated by weights, optimizer state and activations outside attention; at sequence "
        f"{seq_len_of(exp)} the attention matrix is small, so a "
        "memory benefit cannot show here (docs/kernels.md measures the kernels' own memory).",
        "3. **Does RoPE scaling help with longer sequences?** At the training length: "
        + compare_line(exp, "flash", "rope_scaling")
        + ". Beyond it, see the length-extrapolation table below"
        + (": " + rope_summary(rope) if rope else " (not run).")
        + "",
        "4. **What's the combined effect of all features?** " + compare_line(exp, "baseline", "full") + ".",
    ]
    return out


def exp3_answers(exp, extra):
    out = [
        "**Is each advanced feature effective against the standard attention it replaces?** Each variant "
        "against the `baseline` control (standard multi-head attention, sdpa, plain RoPE):"
    ]
    for name in exp.variants:
        if name != exp.baseline:
            out.append("- " + compare_line(exp, exp.baseline, name) + ".")
    return out


def exp6_answers(exp, extra):
    return [
        "**Does DeepseekV3 attention on FlashAttention-2 beat the baseline attention?** "
        + compare_line(exp, "baseline", "flash")
        + ". Accuracy: "
        + verdict(
            welch(exp.variant("baseline").values("val_accuracy"), exp.variant("flash").values("val_accuracy")),
            lower_is_better=False,
            what="validation accuracy",
        )
        + ". Loss against wall time: see the second plot."
    ]


def exp4_answers(exp, extra):
    out = []
    for key in ("exp4_dsa", "exp4_dsa_2048"):
        e = exp if key == exp.name else extra.get(key)
        if e is None:
            continue
        seq = seq_len_of(e)
        out.append(
            f"**Similar performance with better efficiency (T = {seq})?** "
            + compare_line(e, "sparse.plugin-none", "sparse.plugin-dsa")
            + "."
        )
    return out


def seq_len_of(exp):
    folder = exp.variant(exp.baseline).runs[0][0]
    for line in (folder / "recipe.resolved.toml").read_text().splitlines():
        if line.startswith("seq_len"):
            return int(line.split("=")[1])
    return None


# ---------------------------------------------------------------- length extrapolation
def length_table(exp):
    train_len = seq_len_of(exp)
    lengths = [train_len, 2 * train_len, 4 * train_len]
    base = exp.variant(exp.baseline)

    def losses(v, n):
        out = []
        for folder, _ in v.runs:
            f = folder / "eval" / f"seq_len-{n}.json"
            if f.exists():
                out.append(json.loads(f.read_text())["val_loss"])
        return out

    rows = [
        "| RoPE plugin | " + " | ".join(f"val loss at {n} ({n // train_len}×)" for n in lengths) + " |",
        "|---|" + "---|" * len(lengths),
    ]
    findings = {}
    for name, v in exp.variants.items():
        cells = []
        for n in lengths:
            xs = losses(v, n)
            if not xs:
                cells.append("not evaluated")
                continue
            cell = pm(summary(xs)).split(" [")[0]
            if name != exp.baseline:
                w = welch(losses(base, n), xs)
                if w and w["p"] is not None:
                    cell += f" (Δ {w['diff']:+.3f}, p = {w['p']:.2g})"
                    findings[(name, n)] = w
            cells.append(cell)
        rows.append(f"| `{name}` | " + " | ".join(cells) + " |")
    return "\n".join(rows), findings, lengths


def rope_summary(exp):
    _, findings, lengths = length_table(exp)
    parts = []
    for n in lengths[1:]:
        better = [k[0] for k, w in findings.items() if k[1] == n and w["p"] < ALPHA and w["diff"] < 0]
        worse = [k[0] for k, w in findings.items() if k[1] == n and w["p"] < ALPHA and w["diff"] > 0]
        s = f"at {n} tokens, "
        s += ("lower loss than plain RoPE: " + ", ".join(f"`{b}`" for b in better)) if better else "none is better than plain RoPE"
        if worse:
            s += "; worse: " + ", ".join(f"`{b}`" for b in worse)
        parts.append(s)
    return "; ".join(parts) + "."


# ---------------------------------------------------------------- the seeds' own claims
def claims_section(exps):
    out = ["## Where the seeds' numbers came from", ""]
    e20 = exps.get("exp1_20_steps")
    e1 = exps.get("exp1_deepseek_attention")
    if e20:
        v = e20.variant(e20.baseline)
        vocab = v.summaries[0]["data"]["vocab_size"]
        spread = max(x.stat("val_loss")["sd"] or 0.0 for x in e20.variants.values())
        means = {n: x.stat("val_loss")["mean"] for n, x in e20.variants.items()}
        out += [
            "**Experiment 1's report** trained 20 steps and reported validation perplexities of 14,274.93, 14,267.01 "
            "and 14,273.31, a spread of 0.06%, read as a ranking. A uniform guess over its 49,152-token vocabulary "
            f"has perplexity 49,152; after 20 steps a model has barely left it. lab's rerun of the same three "
            f"variants for 20 steps (vocabulary {vocab}, uniform loss ln {vocab} = {math.log(vocab):.3f}):",
            "",
            table(e20),
            "",
            "The means ("
            + ", ".join(f"`{n}` {m:.4f}" for n, m in means.items())
            + f") cannot be told apart with three seeds (seed sd up to {spread:.4f}): "
            + "; ".join(
                f"`{n}`: " + verdict(welch(v.values("val_loss"), x.values("val_loss")))
                for n, x in e20.variants.items()
                if n != e20.baseline
            )
            + ". Twenty steps measure the initialisation, not the attention."
            + (
                f" After {e1.variant('baseline').summaries[0]['steps']} steps the same baseline reaches "
                f"{e1.variant('baseline').stat('val_loss')['mean']:.3f}."
                if e1
                else ""
            ),
            "",
        ]
    e4 = exps.get("exp4_dsa")
    if e4:
        s = e4.all_summaries()
        h = statistics.fmean(x["val_unigram_entropy"] for x in s if "val_unigram_entropy" in x)
        best = min(x["final"]["val_loss"] for x in s)
        acc = max(x["final"]["val_accuracy"] for x in s)
        verdicts = [audit_verdict(folder, x) for v in e4.variants.values() for folder, x in v.runs]
        audits = sorted(f"{verdict} ({verdicts.count(verdict)} runs)" for verdict in set(verdicts))
        out += [
            "**Experiment 4's write-up** expects a validation loss of about 0.06 and a next-token accuracy of "
            "98.5–98.7% (perplexity 1.06) for both models. On held-out English that would mean predicting "
            "nearly every next word. The validation split's unigram entropy is "
            f"{h:.3f} nats (the loss of a model that knows only word frequencies). lab's best exp4 run reaches "
            f"{best:.3f} (perplexity {math.exp(best):.1f}) and at most {acc:.1%} accuracy. The causality audits of "
            f"these runs: {', '.join(audits)}. Such numbers come from a causal leak (a position that sees its "
            "own target) or from validation windows that overlap the training windows. lab's causality probe "
            "and `lab audit data` check for both (docs/audit.md), and every run above passed them.",
            "",
        ]
    return out


def audit_verdict(folder, s):
    """'full: pass' from a run's audit.json (exact and learning probes), else its start-of-training probe."""
    f = folder / "audit.json"
    if f.exists():
        status = json.loads(f.read_text())["causality"]["status"]
        return f"full audit (exact probe {status.get('exact', '?')}, learning probe {status.get('learning', '?')})"
    exact = s.get("audit", {}).get("causality", {}).get("exact", "not run")
    return f"exact probe at the start of training {exact}"


# ---------------------------------------------------------------- page
SECTIONS = [
    ("exp1_deepseek_attention", "Experiment 1: DeepSeek attention integration", exp1_answers),
    ("exp3_advanced_attention", "Experiment 3: advanced DeepSeek attention features", exp3_answers),
    ("exp4_dsa", "Experiment 4: DeepSeek Sparse Attention against dense attention", exp4_answers),
    ("exp6_flash_vs_baseline", "Experiment 6: DeepseekV3 attention on FlashAttention-2 against the baseline", exp6_answers),
]
EXTRA = ["exp1_rope_extrapolation", "exp4_dsa_2048", "exp1_20_steps"]


def machine():
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", default="runs")
    ap.add_argument("--preset", default="cpu")
    ap.add_argument("--out", default="docs/results.md")
    a = ap.parse_args()
    root, out = Path(a.runs), Path(a.out)
    exps = {}
    for name in [s[0] for s in SECTIONS] + EXTRA:
        if (root / name / "comparison" / "comparison.json").exists():
            exps[name] = Experiment(root, name)
    if not exps:
        raise SystemExit(f"results.py: no compared experiment under {root}/; run scripts/reproduce.sh first")
    try:
        commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = "?"
    page = [
        "# Results: the seeds' experiments, answered",
        "",
        "<!-- Generated by scripts/results.py from the runs of scripts/reproduce.sh; do not edit by hand. -->",
        "",
        f"Generated at commit {commit} on {machine()}, preset `{a.preset}`. Rerun with "
        f"`scripts/reproduce.sh --preset {a.preset}` (resumable; it regenerates this page).",
        "",
        "How to read it: cells are mean ± standard deviation over seeds with the 95% confidence interval "
        "of the mean (Student t). Each variant is tested against the baseline by Welch's two-sided t-test "
        "of the final validation loss, with Cohen's d (pooled sd). A difference with p ≥ 0.05 is reported "
        "as **no detectable difference**, whatever the sign of the means: with three seeds only effects "
        "larger than the seeds' spread can show. Where an experiment tests several variants against one "
        "baseline, the decision uses Holm-adjusted p values (in brackets in the tables), so that the "
        "family's chance of one false finding stays at 5%; comparisons between two variants are single tests. "
        "The answers give the 95% confidence interval of each difference (Welch): where it is narrow and "
        "spans zero the variants are close; where it is wide, three seeds cannot say. Memory is each "
        "run's peak resident set. Throughput varies on this shared 2-core machine by about ±20%, and more "
        "while other work runs beside a training run, so the answers quote it from `lab bench` of each "
        "variant's resolved recipe in two rounds, the second in reverse order (the table's first "
        "figure: median of the rounds; the training runs' own tokens/s in brackets), as the ratio of a "
        "round's figures. This "
        "script recomputes lab compare's means and tests from the run folders and stops if they disagree.",
        "",
    ]
    for name, title, answers in SECTIONS:
        if name not in exps:
            page += [f"## {title}", "", "Not run yet.", ""]
            continue
        e = exps[name]
        page += [f"## {title}", "", provenance(e, a.preset), "", table(e), ""]
        if name == "exp4_dsa" and "exp4_dsa_2048" in exps:
            e2 = exps["exp4_dsa_2048"]
            page += [f"At sequence {seq_len_of(e2)} (k = 256):", "", provenance(e2, a.preset), "", table(e2), ""]
        page += ["### Answers", ""] + answers(e, exps) + [""]
        if name == "exp1_deepseek_attention" and "exp1_rope_extrapolation" in exps:
            r = exps["exp1_rope_extrapolation"]
            t, _, _ = length_table(r)
            page += [
                "### Length extrapolation, every RoPE plugin",
                "",
                "MLA + Flash Attention 2 with each RoPE plugin at its default settings (rope_linear and "
                "rope_ntk factor 2, yarn factor 4), trained at the preset's length and evaluated with "
                "`lab eval RUN --seq-len L,2L,4L`; Δ and p against plain `rope` at the same length. "
                "`rope_ntk` equals `rope` at the training length by construction: dynamic NTK scaling "
                "changes the base only for sequences longer than it was set up for.",
                "",
                provenance(r, a.preset),
                "",
                table(r),
                "",
                t,
                "",
                copy_plots(r, out.parent),
                "",
            ]
        page += ["### Curves", "", copy_plots(e, out.parent), ""]
        if name == "exp4_dsa" and "exp4_dsa_2048" in exps:
            page += [copy_plots(exps["exp4_dsa_2048"], out.parent), ""]
    page += claims_section(exps)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(page).rstrip() + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    sys.exit(main())

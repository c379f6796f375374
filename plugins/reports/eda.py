"""EDA data sheet: class counts per split, example images, image shape and value range."""
from __future__ import annotations


from harness import DataError, Report, figures, hookimpl, reporting

from ._common import dataset_names


SPLITS = ("train", "val", "test")


class EDA(Report):
    """The data sheet of each dataset: class balance per split and example images of each class."""

    order = 0

    always = True
    needs_results = False

    def build(self, ctx: "reporting.ReportContext") -> dict[str, str]:
        labels = list(dict.fromkeys(ctx.datasets() + [d.label() for d in ctx.suite.datasets]))
        out = {}
        for ds in labels:
            try:
                splits = {s: ctx.load_split(ds, s) for s in SPLITS}
            except (DataError, KeyError, OSError):  # the sheet is optional when the data is not here
                continue
            names, positive, pos_name, _ = dataset_names(ds)
            name = f"eda_{reporting.slug(ds)}.png"
            figures.eda_sheet(ds, splits, names, positive, ctx.fig_dir / name)
            out[ds] = ("\n## Data\n\n"
                       f"Positive class: {pos_name} (label {positive}). Images per split and class; "
                       "positive share = the positive class's share of the split.\n\n"
                       + count_table(splits, names, positive) + "\n\n"
                       + f"![data sheet]({reporting.link('figures/' + name)})\n")
        return out


def count_table(splits: dict, names: dict, positive: int) -> str:
    """Markdown: one row per split, one column per class, the total and the positive share."""
    classes = sorted(names)
    rows = []
    for s in SPLITS:
        y = splits[s].labels.reshape(-1)
        counts = [int((y == c).sum()) for c in classes]
        share = counts[classes.index(positive)] / len(y) if len(y) and positive in classes else float("nan")
        rows.append([s] + [str(c) for c in counts] + [str(len(y)), f"{share:.1%}"])
    head = ["split"] + [f"{c}: {names[c]}" + (" (+)" if c == positive else "") for c in classes] + \
        ["total", "positive share"]
    return reporting.md_table(head, rows)


@hookimpl
def register_reports(register):
    register("eda", EDA)

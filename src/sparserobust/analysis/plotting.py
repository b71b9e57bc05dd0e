"""Figures and rendered tables from collected CSVs (pandas -> seaborn/matplotlib), written atomically:
every kind by name (scripts/plot.py KIND)."""

from . import plots_doublewin as dw
from . import plots_swt as swt

KINDS = {"swt_overfitting": swt.swt_overfitting, "swt_density": swt.swt_density, "swt_gap": swt.swt_gap,
         "swt_table": swt.swt_table, "swt_abstract": swt.swt_abstract,
         "fig3": dw.fig3, "fig4": dw.fig4, "fig5": dw.fig5, "fig6": dw.fig6,
         "figA9": dw.figA9, "fig7": dw.fig7, "figA8": dw.figA8, "tableA2": dw.tableA2,
         "table_doublewin": dw.table_doublewin, "fig2": dw.fig2, "figA10": dw.figA10}

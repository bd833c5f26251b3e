#include "report/chart_script.hpp"

namespace lab {

const char* const kChartScript = R"js(
(function () {
  const charts = JSON.parse(document.getElementById("lab-charts").textContent);
  const palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];
  const host = document.getElementById("charts");
  const fmt = (x) => (x === null || x === undefined ? "n/a" : Number(x).toPrecision(5));
  const lastOf = (xs) => { for (let i = xs.length - 1; i >= 0; --i) if (xs[i] !== null) return i; return -1; };
  for (const chart of charts) {
    const box = document.createElement("div");
    box.className = "chart";
    box.dataset.chart = chart.id;
    host.appendChild(box);
    const series = [{ label: chart.xlabel }], data = [chart.x], bands = [], finals = [];
    chart.variants.forEach((v, n) => {
      const colour = palette[n % palette.length];
      series.push({ label: v.name + " (mean of " + v.seeds + ")", stroke: colour, width: 2, spanGaps: true });
      data.push(v.mean);
      if (v.seeds > 1) {
        series.push({ label: v.name + " max", stroke: colour, width: 1, dash: [4, 4], spanGaps: true });
        data.push(v.high);
        series.push({ label: v.name + " min", stroke: colour, width: 1, dash: [4, 4], spanGaps: true });
        data.push(v.low);
        bands.push({ series: [data.length - 2, data.length - 1], fill: colour + "30" });
      }
      const i = lastOf(v.mean);
      finals.push(v.name + " " + fmt(v.mean[i]) + (v.seeds > 1 ? " [" + fmt(v.low[i]) + ", " + fmt(v.high[i]) +
                  "] over " + v.seeds + " seeds" : " (1 seed)") + " at step " + chart.x[i]);
    });
    new uPlot({
      title: chart.title, width: Math.min(1150, host.clientWidth || 1150), height: 300, series: series,
      bands: bands, scales: { x: { time: false } },
      axes: [{ label: chart.xlabel }, { label: chart.ylabel }]
    }, data, box);
    const caption = document.createElement("p");
    caption.className = "chart-final";
    caption.textContent = "final " + chart.title + ": " + finals.join("; ");
    box.appendChild(caption);
    box.dataset.series = String(series.length - 1);
  }
  host.dataset.rendered = String(charts.length);
})();
)js";

}  // namespace lab

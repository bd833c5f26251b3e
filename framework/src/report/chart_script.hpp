// The page's own script: draws each chart of the embedded data with uPlot.
#pragma once

namespace lab {

// Reads the JSON of <script id="lab-charts">, draws one uPlot chart per entry into #charts (each
// variant's mean, its seeds' range as a band) and writes the final values under each chart.
extern const char* const kChartScript;

}  // namespace lab

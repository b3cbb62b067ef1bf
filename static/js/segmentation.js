// Charts of the segmentation supervision page (templates: segmentation/supervision_overview.html). The data and
// their translated labels come from the page's <script type="application/json" id="seg-data"> (json_script); the
// tables beside each chart carry the same figures for readers without JavaScript or a screen.
(function () {
  "use strict";
  var source = document.getElementById("seg-data");
  if (!source || !window.echarts) return;
  var data = JSON.parse(source.textContent);
  var charts = [];

  function draw(id, option) {
    var holder = document.getElementById(id);
    if (!holder) return;
    if (!holder.clientHeight) holder.style.height = "320px"; // CSSOM, not a style attribute: the CSP allows it
    var chart = echarts.init(holder);
    chart.setOption(option);
    charts.push(chart);
  }

  function percent(value) {
    return value === null || value === undefined ? "—" : value.toFixed(1) + " %";
  }

  var pyramid = data.pyramid;
  draw("pyramid-chart", {
    tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, valueFormatter: percent },
    legend: { top: 0 },
    grid: { left: 10, right: 30, top: 35, bottom: 10, containLabel: true },
    xAxis: { type: "value", max: 100, axisLabel: { formatter: "{value} %" } },
    yAxis: { type: "category", inverse: true, data: pyramid.tiers },
    series: pyramid.series.map(function (s) {
      return { type: "bar", name: s.name, data: s.data };
    })
  });

  var pareto = data.pareto;
  draw("pareto-chart", {
    tooltip: { trigger: "axis", valueFormatter: percent },
    legend: { top: 0 },
    grid: { left: 10, right: 30, top: 60, bottom: 30, containLabel: true },
    xAxis: { type: "value", min: 0, max: 100, name: pareto.names.x, nameLocation: "middle", nameGap: 25,
             axisLabel: { formatter: "{value} %" } },
    yAxis: { type: "value", min: 0, max: 100, name: pareto.names.y, axisLabel: { formatter: "{value} %" } },
    series: [
      { type: "line", name: pareto.names.curve, data: pareto.points, showSymbol: false, areaStyle: { opacity: 0.15 } },
      { type: "line", name: pareto.names.even, data: [[0, 0], [100, 100]], showSymbol: false,
        lineStyle: { type: "dashed" } },
      { type: "scatter", name: pareto.names.top, data: pareto.top[1] === null ? [] : [pareto.top], symbolSize: 10 }
    ]
  });

  var branches = data.branches;
  draw("branch-chart", {
    tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
    legend: { top: 0 },
    grid: { left: 10, right: 30, top: 35, bottom: 10, containLabel: true },
    xAxis: { type: "category", data: branches.names },
    yAxis: { type: "value" },
    series: branches.series.map(function (s) {
      return { type: "bar", stack: "tiers", name: s.name, data: s.data };
    })
  });

  window.addEventListener("resize", function () {
    charts.forEach(function (chart) { chart.resize(); });
  });
})();

(function () {
  var holder = document.getElementById("aum-chart");
  var data = document.getElementById("aum-data");
  if (!holder || !data || !window.echarts) return;
  var trend = JSON.parse(data.textContent);
  var chart = echarts.init(holder);
  chart.setOption({
    tooltip: { trigger: "axis" },
    grid: { left: 80, right: 20, top: 20, bottom: 30 },
    xAxis: { type: "category", data: trend.periods },
    yAxis: { type: "value" },
    series: [{ type: "line", smooth: true, areaStyle: {}, data: trend.aum.map(Number) }]
  });
  window.addEventListener("resize", function () { chart.resize(); });
})();

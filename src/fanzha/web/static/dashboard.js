/* The dashboard's charts (Apache ECharts, served from /static). The numbers come from the live panel's
   #dash-data element, which htmx replaces on every poll; the charts are drawn again from it. */
(function () {
  "use strict";
  var charts = {};
  var FONT = '"Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif';

  function figures() {
    var el = document.getElementById("dash-data");
    if (!el || !el.dataset.figures) { return null; }
    try { return JSON.parse(el.dataset.figures); } catch (e) { return null; }
  }

  function chart(id) {
    var el = document.getElementById(id);
    if (!el || !window.echarts) { return null; }
    if (!charts[id]) { charts[id] = window.echarts.init(el, null, { renderer: "canvas" }); }
    return charts[id];
  }

  function base() {
    return { animation: false, textStyle: { fontFamily: FONT }, tooltip: { confine: true } };
  }

  function merge(a, b) {
    Object.keys(b).forEach(function (k) { a[k] = b[k]; });
    return a;
  }

  function drawChannel(data) {
    var c = chart("chart-channel");
    if (!c) { return; }
    var any = data.channel.some(function (x) { return x.value > 0; });
    c.setOption(merge(base(), {
      title: any ? { show: false } : { show: true, text: data.words.empty, left: "center", top: "middle",
                                       textStyle: { color: "#56606b", fontSize: 14, fontFamily: FONT } },
      tooltip: { trigger: "item", formatter: "{b}: {c} ({d}%)" },
      legend: { bottom: 0, type: "scroll" },
      series: [{ type: "pie", radius: ["38%", "68%"], center: ["50%", "45%"], avoidLabelOverlap: true,
                 label: { formatter: "{b}\n{c}" },
                 data: data.channel.filter(function (x) { return x.value > 0; }) }]
    }), true);
  }

  function drawFraudType(data) {
    var c = chart("chart-fraud-type");
    if (!c) { return; }
    var names = data.fraud_type.names.slice().reverse();
    var values = data.fraud_type.values.slice().reverse();
    c.setOption(merge(base(), {
      title: names.length ? { show: false } : { show: true, text: data.words.empty, left: "center", top: "middle",
                                                textStyle: { color: "#56606b", fontSize: 14, fontFamily: FONT } },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      grid: { left: 8, right: 40, top: 8, bottom: 8, containLabel: true },
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", data: names },
      series: [{ type: "bar", name: data.words.cases, data: values, itemStyle: { color: "#1f4e8c" },
                 label: { show: true, position: "right" } }]
    }), true);
  }

  function drawTrend(data) {
    var c = chart("chart-trend");
    if (!c) { return; }
    c.setOption(merge(base(), {
      tooltip: { trigger: "axis" },
      legend: { top: 0 },
      grid: { left: 8, right: 8, top: 36, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: data.days },
      yAxis: [{ type: "value", name: data.words.cases, minInterval: 1 },
              { type: "value", name: data.words.minutes, splitLine: { show: false } }],
      series: [
        { type: "bar", name: data.words.cases, data: data.cases_per_day, itemStyle: { color: "#9cc3ee" } },
        { type: "line", name: data.words.median, yAxisIndex: 1, data: data.median_min, connectNulls: true,
          symbolSize: 7, itemStyle: { color: "#1d6b3a" } },
        { type: "line", name: data.words.p90, yAxisIndex: 1, data: data.p90_min, connectNulls: true,
          symbolSize: 7, lineStyle: { type: "dashed" }, itemStyle: { color: "#a8201a" } }
      ]
    }), true);
  }

  function draw() {
    var data = figures();
    if (!data) { return; }
    drawChannel(data);
    drawFraudType(data);
    drawTrend(data);
    document.querySelectorAll(".dash-chart .chart").forEach(function (el) {
      el.dataset.rendered = data.computed_at;
    });
  }

  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.target && event.target.id === "dash-live") { draw(); }
  });
  window.addEventListener("resize", function () {
    Object.keys(charts).forEach(function (id) { charts[id].resize(); });
  });
})();

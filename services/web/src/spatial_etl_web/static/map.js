// Drawing a search box on the catalogue's world map (an SVG whose user space is degrees:
// x = longitude, y = -latitude; see worldmap.py). Dragging fills the W,S,E,N field named by
// the map's data-bbox-input; typing in that field redraws the box, as two rectangles when
// west > east (across the antimeridian). No libraries, no network.
"use strict";

(function () {
  const SVG_NS = "http://www.w3.org/2000/svg";

  function clamp(value, low, high) {
    return Math.min(high, Math.max(low, value));
  }

  function round(value) {
    return Math.round(value * 1000) / 1000;
  }

  // The box typed in the field, or null when it is not four numbers in range.
  function parseBox(text) {
    const parts = text.split(",").map(function (part) { return part.trim(); });
    if (parts.length !== 4 || parts.some(function (part) { return part === ""; })) {
      return null;
    }
    const values = parts.map(Number);
    if (values.some(function (value) { return !Number.isFinite(value); })) {
      return null;
    }
    const [west, south, east, north] = values;
    if (Math.abs(west) > 180 || Math.abs(east) > 180 || Math.abs(south) > 90 ||
        Math.abs(north) > 90 || south > north) {
      return null;
    }
    return { west: west, south: south, east: east, north: north };
  }

  function drawBox(group, box) {
    while (group.firstChild) {
      group.removeChild(group.firstChild);
    }
    if (box === null) {
      return;
    }
    const spans = box.west <= box.east
      ? [[box.west, box.east]]
      : [[box.west, 180], [-180, box.east]];
    spans.forEach(function (span) {
      const rect = document.createElementNS(SVG_NS, "rect");
      rect.setAttribute("x", String(span[0]));
      rect.setAttribute("y", String(-box.north));
      rect.setAttribute("width", String(span[1] - span[0]));
      rect.setAttribute("height", String(box.north - box.south));
      group.appendChild(rect);
    });
  }

  // The pointer's position in degrees, clamped to the world.
  function lonLat(svg, event) {
    const point = svg.createSVGPoint();
    point.x = event.clientX;
    point.y = event.clientY;
    const inner = point.matrixTransform(svg.getScreenCTM().inverse());
    return { lon: clamp(inner.x, -180, 180), lat: clamp(-inner.y, -90, 90) };
  }

  function attach(svg) {
    const input = document.getElementById(svg.dataset.bboxInput);
    const group = svg.querySelector("g.selection");
    if (input === null || group === null) {
      return;
    }
    let start = null;

    function boxTo(event) {
      const here = lonLat(svg, event);
      return {
        west: round(Math.min(start.lon, here.lon)),
        south: round(Math.min(start.lat, here.lat)),
        east: round(Math.max(start.lon, here.lon)),
        north: round(Math.max(start.lat, here.lat)),
      };
    }

    svg.addEventListener("pointerdown", function (event) {
      if (event.button !== 0) {
        return;
      }
      event.preventDefault();
      start = lonLat(svg, event);
      svg.setPointerCapture(event.pointerId);
      svg.classList.add("drawing");
    });
    svg.addEventListener("pointermove", function (event) {
      if (start !== null) {
        drawBox(group, boxTo(event));
      }
    });
    function finish(event) {
      if (start === null) {
        return;
      }
      const box = boxTo(event);
      start = null;
      svg.classList.remove("drawing");
      if (box.east - box.west < 0.001 || box.north - box.south < 0.001) {
        drawBox(group, parseBox(input.value)); // a click, not a drag: keep the typed box
        return;
      }
      drawBox(group, box);
      input.value = [box.west, box.south, box.east, box.north].join(",");
      input.dispatchEvent(new Event("change", { bubbles: true }));
    }
    svg.addEventListener("pointerup", finish);
    svg.addEventListener("pointercancel", function () {
      start = null;
      svg.classList.remove("drawing");
      drawBox(group, parseBox(input.value));
    });
    input.addEventListener("input", function () {
      drawBox(group, parseBox(input.value));
    });
  }

  document.querySelectorAll("svg[data-bbox-input]").forEach(attach);
})();

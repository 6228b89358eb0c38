export * from "./charts.js";
export * from "./grid.js";
export * from "./overlay.js";

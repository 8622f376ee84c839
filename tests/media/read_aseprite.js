// Reads an .aseprite file with the npm package ase-parser (a second reader, not ours) and
// prints what a sprite needs as JSON: node read_aseprite.js FILE
"use strict";
const fs = require("fs");
const Aseprite = require("ase-parser");

const path = process.argv[2];
const ase = new Aseprite(fs.readFileSync(path), path);
ase.parse();
console.log(JSON.stringify({
  width: ase.width,
  height: ase.height,
  depth: ase.colorDepth,
  transparentIndex: ase.paletteIndex,
  durations: ase.frames.map((f) => f.frameDuration),
  palette: ase.palette.colors.map((c) => [c.red, c.green, c.blue]),
  layers: ase.layers.map((l) => ({ name: l.name, background: l.flags.background })),
  tags: ase.tags.map((t) => ({ name: t.name, from: t.from, to: t.to, direction: t.animDirection })),
  cels: ase.frames.map((f) => Array.from(f.cels[0].rawCelData)),
}));

// Reads, through Phaser's own texture manager, the alpha of every pixel of every frame of
// our sprite sheet (each JSON layout loaded with load.atlas) and reports it in
// window.alphaProbe: { layouts: { key: [{ name, width, height, alpha: [0..255, row by row] }] } }.
"use strict";

const LAYOUTS = { default: "sheet.json", hash: "sheet.hash.json", array: "sheet.array.json" };

class AlphaProbe extends Phaser.Scene {
  preload() {
    for (const [key, url] of Object.entries(LAYOUTS)) this.load.atlas(key, "sheet.png", url);
    this.load.on("loaderror", (file) => window.alphaProbe.errors.push(`load failed: ${file.key}`));
  }

  create() {
    const probe = window.alphaProbe;
    for (const key of Object.keys(LAYOUTS)) {
      probe.layouts[key] = this.textures.get(key).getFrameNames().map((name) => {
        const frame = this.textures.getFrame(key, name);
        const alpha = [];
        for (let y = 0; y < frame.cutHeight; y++) {
          for (let x = 0; x < frame.cutWidth; x++) alpha.push(this.textures.getPixelAlpha(x, y, key, name));
        }
        return { name, width: frame.cutWidth, height: frame.cutHeight, alpha };
      });
    }
    probe.ready = true;
  }
}

window.alphaProbe = { layouts: {}, ready: false, errors: [] };
window.game = new Phaser.Game({
  type: Phaser.HEADLESS,
  width: 64,
  height: 64,
  banner: false,
  audio: { noAudio: true },
  scene: AlphaProbe,
});

// Loads our sprite sheet the ways a Phaser game does and reports what Phaser sees in
// window.probe: each JSON layout through load.atlas, the hash and array layouts through
// load.aseprite + anims.createFromAseprite, and the frames actually shown while playing.
"use strict";

const ATLASES = { default: "sheet.json", hash: "sheet.hash.json", array: "sheet.array.json" };

function frameList(texture) {
  return texture.getFrameNames().map((name) => ({
    name,
    duration: texture.get(name).customData.duration,
    rect: { x: texture.get(name).cutX, y: texture.get(name).cutY, w: texture.get(name).cutWidth, h: texture.get(name).cutHeight },
  }));
}

function describe(anim) {
  return {
    key: anim.key,
    frames: anim.frames.map((f) => f.textureFrame),
    durations: anim.frames.map((f) => f.duration),
    yoyo: anim.yoyo,
  };
}

class Probe extends Phaser.Scene {
  preload() {
    for (const [key, url] of Object.entries(ATLASES)) this.load.atlas(key, "sheet.png", url);
    this.load.aseprite("ase-hash", "sheet.png", "sheet.hash.json");
    this.load.aseprite("ase-array", "sheet.png", "sheet.array.json");
    this.load.on("loaderror", (file) => window.probe.errors.push(`load failed: ${file.key}`));
  }

  create() {
    const probe = window.probe;
    for (const key of Object.keys(ATLASES)) {
      const frames = frameList(this.textures.get(key));
      probe.atlas[key] = frames;
      // A game builds the animation from the atlas's frame names and durations.
      const anim = this.anims.create({
        key: `atlas-${key}`,
        frames: frames.map((f) => ({ key, frame: f.name, duration: f.duration })),
        repeat: 0,
      });
      probe.atlasAnims[key] = describe(anim);
    }
    const fromHash = this.anims.createFromAseprite("ase-hash");
    const fromArray = this.anims.createFromAseprite("ase-array", undefined, this.add.sprite(0, 0, "ase-array"));
    probe.aseprite = { hash: fromHash.map(describe), array: fromArray.map(describe) };
    const sprite = this.add.sprite(0, 0, "ase-hash");
    sprite.on("animationupdate", (anim, frame) => probe.shown.push(frame.textureFrame));
    sprite.on("animationcomplete", () => { probe.complete = true; });
    sprite.play({ key: fromHash[0].key, repeat: 0 });
    probe.shown.push(sprite.anims.currentFrame.textureFrame);
    probe.ready = true;
  }
}

window.probe = { atlas: {}, atlasAnims: {}, aseprite: null, shown: [], complete: false, ready: false, errors: [] };
window.game = new Phaser.Game({
  type: Phaser.HEADLESS,
  width: 64,
  height: 64,
  banner: false,
  audio: { noAudio: true },
  scene: Probe,
});

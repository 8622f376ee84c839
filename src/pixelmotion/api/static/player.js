// The animation preview: frames drawn pixel-sharp in a canvas, with play/pause, stepping,
// zoom and onion skin. Plain ES module, no build step.
import { t } from "./texts.js";

const $ = (selector) => document.querySelector(selector);

export class Player {
  constructor(canvas) {
    this.canvas = canvas;
    this.context = canvas.getContext("2d");
    this.scratch = document.createElement("canvas");
    this.scratchContext = this.scratch.getContext("2d");
    this.images = [];
    this.delays = [];
    this.width = 0;
    this.height = 0;
    this.index = 0;
    this.zoom = 4;
    this.playing = true;
    this.onionSkin = false;
    this.frameHandle = null;
    this.lastTime = 0;
    this.pending = 0;
    this.tick = this.tick.bind(this);
  }

  get frameCount() {
    return this.images.length;
  }

  load(animation) {
    this.stopLoop();
    this.width = animation.width;
    this.height = animation.height;
    this.images = animation.frames.map((f) => new ImageData(f.imageData, f.width, f.height));
    this.delays = animation.frames.map((f) => Math.max(10, f.delayMs || Math.round(1000 / animation.fps)));
    this.scratch.width = this.width;
    this.scratch.height = this.height;
    this.index = 0;
    const zoom = $("#zoom");
    zoom.max = String(this.maxZoom());
    this.setZoom(this.fitZoom());
    this.canvas.dataset.frames = String(this.frameCount);
    if (this.playing) this.play();
    else this.draw();
  }

  maxZoom() {
    return Math.max(1, Math.min(32, Math.floor(4096 / Math.max(this.width, this.height, 1))));
  }

  fitZoom() {
    const room = Math.min(($("#stage").clientWidth || 512) - 16, 512);
    return Math.max(1, Math.min(this.maxZoom(), Math.floor(room / Math.max(this.width, this.height, 1))));
  }

  setZoom(value) {
    if (!this.frameCount) return;
    this.zoom = Math.max(1, Math.min(this.maxZoom(), Math.round(value)));
    this.canvas.width = this.width * this.zoom;
    this.canvas.height = this.height * this.zoom;
    $("#zoom").value = String(this.zoom);
    $("#zoom-value").textContent = `${this.zoom}×`;
    this.draw();
  }

  setOnionSkin(on) {
    this.onionSkin = on;
    $("#onion").checked = on;
    this.draw();
  }

  drawImage(image, alpha) {
    this.scratchContext.putImageData(image, 0, 0);
    this.context.globalAlpha = alpha;
    this.context.drawImage(this.scratch, 0, 0, this.canvas.width, this.canvas.height);
  }

  draw() {
    if (!this.frameCount) return;
    const context = this.context;
    context.imageSmoothingEnabled = false;
    context.clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.drawImage(this.images[this.index], 1);
    if (this.onionSkin && this.frameCount > 1) {
      // The previous frame goes over the current one, faintly.
      this.drawImage(this.images[(this.index - 1 + this.frameCount) % this.frameCount], 0.35);
    }
    context.globalAlpha = 1;
    this.canvas.dataset.frame = String(this.index);
    $("#frame-counter").textContent = `${this.index + 1} / ${this.frameCount}`;
  }

  tick(now) {
    if (!this.playing) return;
    this.pending += Math.min(now - this.lastTime, 1000);
    this.lastTime = now;
    let moved = false;
    while (this.pending >= this.delays[this.index]) {
      this.pending -= this.delays[this.index];
      this.index = (this.index + 1) % this.frameCount;
      moved = true;
    }
    if (moved) this.draw();
    this.frameHandle = requestAnimationFrame(this.tick);
  }

  stopLoop() {
    if (this.frameHandle !== null) cancelAnimationFrame(this.frameHandle);
    this.frameHandle = null;
  }

  play() {
    this.playing = true;
    this.updateLabels();
    if (!this.frameCount) return;
    this.stopLoop();
    this.draw();
    this.lastTime = performance.now();
    this.pending = 0;
    this.frameHandle = requestAnimationFrame(this.tick);
  }

  pause() {
    this.playing = false;
    this.stopLoop();
    this.updateLabels();
  }

  toggle() {
    if (this.playing) this.pause();
    else this.play();
  }

  step(delta) {
    if (!this.frameCount) return;
    this.pause();
    this.index = (this.index + delta + this.frameCount) % this.frameCount;
    this.draw();
  }

  updateLabels() {
    const button = $("#play");
    button.textContent = this.playing ? t("pause") : t("play");
    button.dataset.playing = String(this.playing);
    if (this.frameCount) {
      this.canvas.setAttribute("aria-label", t("canvasLabel", this.width, this.height, this.frameCount));
    }
  }

  /** The buttons, the zoom slider, the onion-skin box and the stage's keys. */
  wire() {
    $("#play").addEventListener("click", () => this.toggle());
    $("#prev-frame").addEventListener("click", () => this.step(-1));
    $("#next-frame").addEventListener("click", () => this.step(1));
    $("#zoom").addEventListener("input", (event) => this.setZoom(Number(event.target.value)));
    $("#onion").addEventListener("change", (event) => this.setOnionSkin(event.target.checked));
    $("#stage").addEventListener("keydown", (event) => {
      const keys = {
        " ": () => this.toggle(),
        k: () => this.toggle(),
        ArrowLeft: () => this.step(-1),
        ArrowRight: () => this.step(1),
        "+": () => this.setZoom(this.zoom + 1),
        "=": () => this.setZoom(this.zoom + 1),
        "-": () => this.setZoom(this.zoom - 1),
        o: () => this.setOnionSkin(!this.onionSkin),
      };
      const action = keys[event.key];
      if (action && !event.ctrlKey && !event.metaKey && !event.altKey) {
        event.preventDefault();
        action();
      }
    });
  }
}

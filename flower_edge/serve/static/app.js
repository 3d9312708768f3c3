// The page's only script: no framework, no CDN, so it works on a Pi with no internet.
"use strict";
const $ = (id) => document.getElementById(id);
const tokenKey = "flower-edge-token";

function headers() {
  const token = localStorage.getItem(tokenKey);
  return token ? { "X-Token": token } : {};
}

function status(text, isError) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "muted";
}

async function loadModel() {
  const response = await fetch("/v1/model", { headers: headers() });
  if (response.status === 401) {
    $("token-box").hidden = false;
    $("model").textContent = "this server needs a token";
    return;
  }
  const info = await response.json();
  const size = info.model_bytes >= 1e6 ? `${(info.model_bytes / 1e6).toFixed(1)} MB`
    : `${(info.model_bytes / 1e3).toFixed(0)} kB`;
  $("model").textContent = `${info.name} · ${info.variant} · ${size} · ` +
    `${info.image_size[0]}×${info.image_size[1]} px · ${info.labels.length} classes · ${info.interpreter}`;
}

function showBars(top) {
  const list = $("bars");
  list.replaceChildren();
  for (const row of top) {
    const item = document.createElement("li");
    const name = document.createElement("span");
    name.textContent = row.label;
    const bar = document.createElement("div");
    bar.className = "bar";
    const fill = document.createElement("span");
    fill.style.width = `${(row.probability * 100).toFixed(1)}%`;
    bar.append(fill);
    const pct = document.createElement("span");
    pct.className = "pct";
    pct.textContent = `${(row.probability * 100).toFixed(1)}%`;
    item.append(name, bar, pct);
    list.append(item);
  }
}

async function classify(file) {
  if (!file) return;
  $("preview").src = URL.createObjectURL(file);
  $("preview-box").hidden = false;
  $("label").textContent = "";
  $("bars").replaceChildren();
  $("timing").textContent = "";
  status("classifying…");
  const form = new FormData();
  form.append("image", file, file.name || "photo.jpg");
  const started = performance.now();
  try {
    const response = await fetch("/v1/classify", { method: "POST", body: form, headers: headers() });
    const result = await response.json();
    if (!response.ok) {
      if (response.status === 401) $("token-box").hidden = false;
      status(result.error || `error ${response.status}`, true);
      return;
    }
    const total = performance.now() - started;
    status("");
    $("label").textContent = result.label;
    showBars(result.top_k);
    $("timing").textContent = `server ${result.time_ms.toFixed(0)} ms · round trip ${total.toFixed(0)} ms`;
  } catch (err) {
    status(`could not reach the server: ${err}`, true);
  }
}

$("camera").addEventListener("change", (e) => classify(e.target.files[0]));
$("file").addEventListener("change", (e) => classify(e.target.files[0]));
$("token-save").addEventListener("click", () => {
  localStorage.setItem(tokenKey, $("token").value);
  $("token-box").hidden = true;
  loadModel();
});
loadModel();

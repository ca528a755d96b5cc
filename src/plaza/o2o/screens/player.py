"""The screen player: one small HTML page that polls ``/screens/{id}/now`` and shows each
item in turn. The token comes from the URL fragment (``#token=…``), which browsers never
send to the server; the page builds its DOM with ``textContent`` and ``src`` only (no
HTML from data), and its inline script and style are allowed by hash in its CSP."""

from __future__ import annotations

import base64
import hashlib
import re
import uuid

from plaza.security.headers import script_hashes

_STYLE = """
html,body{margin:0;height:100%;background:#000;color:#fff;font-family:sans-serif}
#stage{display:flex;align-items:center;justify-content:center;height:100%;text-align:center}
#stage img,#stage video{max-width:100%;max-height:100%}
.card h1{font-size:5vw;margin:0 0 2vh}.card p{font-size:3vw;margin:0}
"""

_SCRIPT = """
(function(){
  var id = document.body.dataset.screen;
  var token = new URLSearchParams(location.hash.slice(1)).get('token') || '';
  var stage = document.getElementById('stage');
  var items = [], i = 0, timer = null, refresh = 30;
  function money(p){
    return p.price == null ? '' : (p.price / 100).toFixed(2) + ' ' + p.currency;
  }
  function card(title, line){
    var d = document.createElement('div'); d.className = 'card';
    var h = document.createElement('h1'); h.textContent = title;
    var p = document.createElement('p'); p.textContent = line;
    d.appendChild(h); d.appendChild(p); return d;
  }
  function show(){
    clearTimeout(timer);
    stage.textContent = '';
    if (!items.length) { timer = setTimeout(show, 5000); return; }
    var it = items[i++ % items.length], el;
    if (it.kind === 'image') {
      el = document.createElement('img'); el.src = it.url; el.alt = it.title;
    } else if (it.kind === 'video') {
      el = document.createElement('video'); el.src = it.url;
      el.autoplay = true; el.muted = true; el.loop = true;
    } else if (it.kind === 'product' && it.product) {
      el = card(it.product.title, money(it.product));
    }
    else if (it.kind === 'offer' && it.offer) { el = card(it.offer.title, it.offer.message); }
    else { el = card(it.title, ''); }
    stage.appendChild(el);
    timer = setTimeout(show, it.duration_seconds * 1000);
  }
  function poll(){
    fetch('/screens/' + id + '/now', {headers: {'X-Screen-Token': token}})
      .then(function(r){ return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function(d){
        var fresh = !items.length;
        items = d.items; refresh = d.refresh_seconds;
        if (fresh) show();
      })
      .catch(function(){})
      .then(function(){ setTimeout(poll, refresh * 1000); });
  }
  poll();
})();
"""


def player_html(screen_id: uuid.UUID) -> str:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<title>Plaza screen</title><style>{_STYLE}</style></head>"
        f"<body data-screen='{screen_id}'><div id=stage></div>"
        f"<script>{_SCRIPT}</script></body></html>"
    )


def _style_hash(html: str) -> str:
    body = re.search(r"<style>(.*?)</style>", html, re.DOTALL)
    raw = body.group(1).encode() if body else b""
    return "'sha256-" + base64.b64encode(hashlib.sha256(raw).digest()).decode() + "'"


def player_csp(html: str) -> str:
    """Only this page's own script and style; media from any https origin; fetches to
    this server only."""
    scripts = " ".join(script_hashes(html.encode()))
    return (
        f"default-src 'none'; script-src {scripts}; style-src {_style_hash(html)}; "
        "img-src https: http:; media-src https: http:; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )

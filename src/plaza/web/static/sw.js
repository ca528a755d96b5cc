/* Plaza storefront service worker, served at /shop/sw.js (scope /shop/) with CONFIG
   prepended by the server (plaza/web/shop/pwa.py): the versioned shell URLs to precache,
   the offline page, and the paths it must never cache.
   - shell (CSS, JS, htmx, icon, offline page): cache first, replaced when CONFIG.version changes;
   - product pages: network first, the last CONFIG.recentProducts kept for offline reading;
   - other page navigations: network, else the offline page;
   - never cached: anything but GET, other origins, and the private paths of CONFIG.neverCache
     (cart, checkout, account, orders, staff, back-office). */
/* global CONFIG */
"use strict";

var SHELL = "plaza-shell-" + CONFIG.version;
var PRODUCTS = "plaza-products";

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(SHELL)
      .then(function (cache) { return cache.addAll(CONFIG.precache); })
      .then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys()
      .then(function (keys) {
        return Promise.all(keys.filter(function (key) {
          return key.indexOf("plaza-shell-") === 0 && key !== SHELL;
        }).map(function (key) { return caches.delete(key); }));
      })
      .then(function () { return self.clients.claim(); })
  );
});

function isPrivate(path) {
  return CONFIG.neverCache.some(function (prefix) {
    return path === prefix || path.indexOf(prefix + "/") === 0 || path.indexOf(prefix + "?") === 0;
  });
}

function offlinePage() {
  return caches.match(CONFIG.offline).then(function (hit) {
    return hit || new Response("You are offline.", {
      status: 503, headers: { "Content-Type": "text/plain; charset=utf-8" }
    });
  });
}

function keepRecent(cache) {
  return cache.keys().then(function (keys) {
    var extra = keys.length - CONFIG.recentProducts;
    return Promise.all(keys.slice(0, Math.max(0, extra)).map(function (req) {
      return cache.delete(req);
    }));
  });
}

function productPage(request) {
  return fetch(request).then(function (response) {
    var noStore = (response.headers.get("Cache-Control") || "").indexOf("no-store") !== -1;
    if (response.ok && response.type === "basic" && !noStore) {
      var copy = response.clone();
      caches.open(PRODUCTS).then(function (cache) {
        // Delete first, so a page viewed again counts as the most recent.
        return cache.delete(request, { ignoreVary: true })
          .then(function () { return cache.put(request, copy); })
          .then(function () { return keepRecent(cache); });
      });
    }
    return response;
  }).catch(function () {
    return caches.open(PRODUCTS)
      .then(function (cache) { return cache.match(request, { ignoreVary: true }); })
      .then(function (hit) { return hit || offlinePage(); });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;  // never POSTs
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  var navigate = request.mode === "navigate";
  if (isPrivate(url.pathname)) {
    if (navigate) event.respondWith(fetch(request).catch(offlinePage));
    return;  // private pages are never stored
  }
  if (CONFIG.precache.indexOf(url.pathname + url.search) !== -1) {
    event.respondWith(caches.match(request).then(function (hit) { return hit || fetch(request); }));
    return;
  }
  if (navigate && url.pathname.indexOf(CONFIG.productPrefix) === 0) {
    event.respondWith(productPage(request));
    return;
  }
  if (navigate) event.respondWith(fetch(request).catch(offlinePage));
});

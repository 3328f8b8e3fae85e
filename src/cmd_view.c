/* cmd_view.c — `cbas view`: a time-series viewer in the browser, served by cbas itself (the
 * part of LiCSBAS_plot_ts.py a user needs in the field: the velocity map, click a pixel, see
 * its displacement series; shift-click another pixel to use it as the reference; the page's
 * address ends in #x=X&y=Y for the pixel shown, a link to it).
 *
 * cbas listens on --bind (default 127.0.0.1; 0.0.0.0 serves the local network, e.g. a
 * Raspberry Pi that processed a city, viewed from a laptop) and --port (default 8000; 0 = any
 * free port), prints the address and answers, one connection at a time, HTTP/1.0 GETs:
 *   /           the page (HTML + JavaScript, nothing fetched from elsewhere: works offline)
 *   /meta.json  {"width","length","dates":[YYYYMMDD...],"ref","cum","vel","grid":{lat1,lon1,
 *               post_lat,post_lon} or null}
 *   /vel.f32    the velocity raster, float32 little-endian, row after row (NaN = no data)
 *   /ts.json?x=X&y=Y  {"x","y","lon","lat","vel","mm":[...]}: the series of `cbas ts --xy X/Y`
 *               (cum * mask - reference, minus its first epoch when that is valid), null = NaN
 * anything else 404, other methods 405, a bad pixel 400. --max-requests N stops after N
 * requests (tests). The inputs are `cbas ts`'s (--ts/--cum, --filt/--unfilt, --ref..., --mask);
 * the velocity map is --vel FILE or the TSDIR's results/vel.filt.mskd.tif, vel.filt.tif,
 * vel.mskd.tif or vel.tif (the first that exists; filtered ones for cum_filt.tif).
 * Memory: the reference series (n floats), one row block of the velocity (<= 1 MB, budget) and
 * 8 KiB per request; nothing grows with the image but /vel.f32's transfer, which streams.
 */
#include "cbas/budget.h"
#include "cbas/cli.h"
#include "cbas/plat.h"
#include "cbas/tools.h"
#include "cbas/tsdir.h"
#include "cmds.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct view_opts {
  tools_in_opts in;
  const char *vel, *bind;
  int port, max_req;
} view_opts;

typedef struct view {
  cbas_ctx *ctx;
  tools_cum c;
  gt_reader *mask, *vel;
  char vel_path[1100];
  float *refv;         /* [n] reference series */
  int have_ref;
  char ref_desc[256];
  float *rows;         /* velocity row block (budget) */
  uint32_t n_rows;
} view;

static const char PAGE[] =
    "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>cbas view</title><style>\n"
    "body{font:14px sans-serif;margin:8px}#wrap{display:flex;flex-wrap:wrap;gap:12px}\n"
    "canvas{border:1px solid #999;image-rendering:pixelated;cursor:crosshair}#info{white-space:pre;font:12px monospace}\n"
    "</style></head><body><b>cbas view</b> <span id=\"src\"></span><div id=\"wrap\"><div>"
    "<canvas id=\"map\"></canvas><br><span id=\"scale\"></span></div><div><canvas id=\"ts\" width=\"640\" "
    "height=\"360\"></canvas><div id=\"info\">click a pixel; shift-click sets the reference pixel</div></div></div>\n"
    "<script>\n"
    "let M,V,W,L,IM,ref=null,cur=null;const $=i=>document.getElementById(i);\n"
    "function col(t){t=Math.max(-1,Math.min(1,t));const a=Math.abs(t);" /* blue - white - red */
    "return t<0?[255*(1-a),255*(1-a*.6),255]:[255,255*(1-a*.7),255*(1-a)];}\n"
    "async function init(){M=await (await fetch('meta.json')).json();W=M.width;L=M.length;\n"
    "V=new Float32Array(await (await fetch('vel.f32')).arrayBuffer());\n"
    "$('src').textContent=M.cum+' | '+M.vel+' | ref '+M.ref;\n"
    "const a=[];for(const v of V)if(isFinite(v))a.push(Math.abs(v));a.sort((p,q)=>p-q);\n"
    "const r=a.length?a[Math.floor(.98*(a.length-1))]||1:1;$('scale').textContent='velocity, blue -'+r.toFixed(1)+' .. red +'+r.toFixed(1)+' mm/yr';\n"
    "const c=$('map'),s=Math.max(1,Math.floor(Math.min(900/W,700/L)));c.width=W;c.height=L;c.style.width=W*s+'px';c.style.height=L*s+'px';\n"
    "const g=c.getContext('2d');IM=g.createImageData(W,L);const im=IM;for(let i=0;i<W*L;i++){const v=V[i];\n"
    "const k=isFinite(v)?col(v/r):[200,200,200];im.data.set([k[0],k[1],k[2],255],4*i);}g.putImageData(im,0,0);\n"
    "c.onclick=async e=>{const x=Math.floor(e.offsetX*W/c.clientWidth),y=Math.floor(e.offsetY*L/c.clientHeight);\n"
    "const t=await (await fetch('ts.json?x='+x+'&y='+y)).json();if(e.shiftKey){ref=t;}else{cur=t;location.hash='x='+x+'&y='+y;}draw();};\n"
    "const h=new URLSearchParams(location.hash.slice(1));if(h.has('x')&&h.has('y')){\n" /* #x=..&y=..: a link to a pixel */
    "cur=await (await fetch('ts.json?x='+(+h.get('x'))+'&y='+(+h.get('y')))).json();draw();}}\n"
    "function day(d){return Date.UTC(+d.slice(0,4),+d.slice(4,6)-1,+d.slice(6,8))/864e5;}\n"
    "function mark(){const g=$('map').getContext('2d');g.putImageData(IM,0,0);\n" /* the pixels shown */
    "for(const [p,k] of [[cur,'#000'],[ref,'#0a0']])if(p){g.fillStyle=k;g.fillRect(p.x-3,p.y,7,1);g.fillRect(p.x,p.y-3,1,7);}}\n"
    "function draw(){if(!cur)return;mark();const c=$('ts'),g=c.getContext('2d'),D=M.dates.map(day);g.clearRect(0,0,c.width,c.height);\n"
    "const y=cur.mm.map((v,i)=>v===null||(ref&&ref.mm[i]===null)?null:v-(ref?ref.mm[i]:0));\n"
    "const f=y.filter(v=>v!==null);const lo=Math.min(...f,0),hi=Math.max(...f,0),pad=(hi-lo)*.05||1;\n"
    "const X=d=>50+(d-D[0])/(D[D.length-1]-D[0]||1)*(c.width-60),Y=v=>c.height-30-(v-lo+pad)/(hi-lo+2*pad)*(c.height-50);\n"
    "g.strokeStyle='#999';g.beginPath();g.moveTo(50,Y(0));g.lineTo(c.width-10,Y(0));g.stroke();g.fillStyle='#000';g.font='11px sans-serif';\n"
    "for(let k=0;k<=4;k++){const v=lo-pad+(hi-lo+2*pad)*k/4;g.fillText(v.toFixed(1),2,Y(v)+4);}\n"
    "for(let yr=+M.dates[0].slice(0,4)+1;yr<=+M.dates[M.dates.length-1].slice(0,4);yr++){const d=Date.UTC(yr,0,1)/864e5;\n" /* years */
    "g.fillStyle='#ddd';g.fillRect(X(d),10,1,c.height-40);g.fillStyle='#000';g.fillText(yr,X(d)-12,c.height-12);}\n"
    "g.fillText('mm (LOS, + = towards the satellite)',50,10);\n"
    "g.fillStyle='#c00';y.forEach((v,i)=>{if(v!==null)g.fillRect(X(D[i])-2,Y(v)-2,4,4);});\n"
    "$('info').textContent='pixel '+cur.x+'/'+cur.y+(cur.lon!==null?'  lon '+cur.lon.toFixed(5)+' lat '+cur.lat.toFixed(5):'')+\n"
    "'  vel '+(cur.vel===null?'NaN':cur.vel.toFixed(2))+' mm/yr'+(ref?'\\nrelative to pixel '+ref.x+'/'+ref.y+' (shift-click another)':'\\nreference: '+M.ref+' (shift-click a pixel to change)');}\n"
    "init();\n"
    "</script></body></html>\n";

/* ---- HTTP ------------------------------------------------------------------------------------ */

static int send_head(int fd, int code, const char *type, size_t len) {
  const char *what = code == 200 ? "OK" : code == 400 ? "Bad Request" : code == 404 ? "Not Found"
                   : code == 405 ? "Method Not Allowed" : "Internal Server Error";
  char h[256];
  int n = snprintf(h, sizeof h,
                   "HTTP/1.0 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nCache-Control: no-store\r\n"
                   "Connection: close\r\n\r\n", code, what, type, len);
  return plat_send_all(fd, h, (size_t)n);
}

static int send_body(int fd, int code, const char *type, const char *body, size_t len) {
  int e = send_head(fd, code, type, len);
  return e ? e : plat_send_all(fd, body, len);
}

static int send_error(int fd, int code, const char *msg) {
  char b[512];
  int n = snprintf(b, sizeof b, "{\"error\": \"%s\"}\n", msg);
  return send_body(fd, code, "application/json", b, (size_t)n);
}

/* A float as JSON (null for NaN/inf). */
static void json_num(tsdir_text *t, double v) {
  if (isfinite(v)) tsdir_text_printf(t, "%.9g", v);
  else tsdir_text_printf(t, "null");
}

/* A path as a JSON string (quotes and backslashes escaped, control characters dropped). */
static void json_str(tsdir_text *t, const char *s) {
  tsdir_text_printf(t, "\"");
  for (; *s; s++) {
    if (*s == '"' || *s == '\\') tsdir_text_printf(t, "\\%c", *s);
    else if ((unsigned char)*s >= 0x20) tsdir_text_printf(t, "%c", *s);
  }
  tsdir_text_printf(t, "\"");
}

static int send_text(int fd, tsdir_text *t, const char *type) {
  int e = t->oom ? send_error(fd, 500, "out of memory") : send_body(fd, 200, type, t->buf, t->len);
  tsdir_text_free(t);
  return e;
}

static int serve_meta(view *v, int fd) {
  tsdir_text t = {0};
  tsdir_text_printf(&t, "{\"width\": %u, \"length\": %u, \"dates\": [", v->c.width, v->c.length);
  for (int e = 0; e < v->c.n_epoch; e++) tsdir_text_printf(&t, "%s\"%s\"", e ? ", " : "", v->c.date[e]);
  tsdir_text_printf(&t, "], \"ref\": ");
  json_str(&t, v->have_ref ? v->ref_desc : "none");
  tsdir_text_printf(&t, ", \"cum\": ");
  json_str(&t, v->c.path);
  tsdir_text_printf(&t, ", \"vel\": ");
  json_str(&t, v->vel_path);
  if (v->c.has_grid)
    tsdir_text_printf(&t, ", \"grid\": {\"lat1\": %.12g, \"lon1\": %.12g, \"post_lat\": %.12g, \"post_lon\": %.12g}}\n",
                      v->c.grid.lat1, v->c.grid.lon1, v->c.grid.post_lat, v->c.grid.post_lon);
  else
    tsdir_text_printf(&t, ", \"grid\": null}\n");
  return send_text(fd, &t, "application/json");
}

/* The velocity raster, row blocks read as they are sent; float32 little-endian. */
static int serve_vel(view *v, int fd) {
  cbas_ctx *ctx = v->ctx;
  uint32_t W = v->c.width, L = v->c.length;
  int e = send_head(fd, 200, "application/octet-stream", (size_t)W * L * 4);
  const uint16_t one = 1;
  int big = *(const uint8_t *)&one == 0;
  for (uint32_t y0 = 0; !e && y0 < L; y0 += v->n_rows) {
    uint32_t ny = L - y0 < v->n_rows ? L - y0 : v->n_rows;
    if (gt_read(ctx, v->vel, 0, 0, y0, W, ny, GT_F32, v->rows, W)) return ctx->status;
    if (big) {
      uint8_t *b = (uint8_t *)v->rows;
      for (size_t i = 0; i < (size_t)W * ny; i++) {
        uint8_t t0 = b[4 * i], t1 = b[4 * i + 1];
        b[4 * i] = b[4 * i + 3]; b[4 * i + 1] = b[4 * i + 2]; b[4 * i + 2] = t1; b[4 * i + 3] = t0;
      }
    }
    e = plat_send_all(fd, v->rows, (size_t)W * ny * 4);
  }
  return e ? -1 : 0; /* a client that went away is not the server's failure */
}

/* Value of key in a query string "a=1&b=2" as a non-negative integer, or -1. */
static long query_int(const char *q, const char *key) {
  size_t k = strlen(key);
  for (const char *p = q; p && *p; p = strchr(p, '&'), p = p ? p + 1 : NULL) {
    if (!strncmp(p, key, k) && p[k] == '=') {
      char *end;
      long v = strtol(p + k + 1, &end, 10);
      return end == p + k + 1 || (*end && *end != '&') || v < 0 ? -1 : v;
    }
  }
  return -1;
}

static int serve_ts(view *v, int fd, const char *query) {
  cbas_ctx *ctx = v->ctx;
  long x = query_int(query, "x"), y = query_int(query, "y");
  if (x < 0 || y < 0 || x >= (long)v->c.width || y >= (long)v->c.length)
    return send_error(fd, 400, "x and y must be a pixel of the grid");
  int n = v->c.n_epoch;
  float *d = malloc((size_t)n * sizeof *d), m = 1.0f, vel = NAN;
  if (!d) return send_error(fd, 500, "out of memory");
  if (tools_cum_rows(ctx, &v->c, 0, n, (uint32_t)x, 1, (uint32_t)y, 1, d) ||
      (v->mask && gt_read(ctx, v->mask, 0, (uint32_t)x, (uint32_t)y, 1, 1, GT_F32, &m, 1)) ||
      gt_read(ctx, v->vel, 0, (uint32_t)x, (uint32_t)y, 1, 1, GT_F32, &vel, 1)) {
    free(d);
    return ctx->status;
  }
  if (m == 0.0f) m = NAN;
  /* as cbas ts: ts*mask - ref (float32), then minus the first epoch */
  for (int e = 0; e < n; e++) d[e] = d[e] * m - v->refv[e];
  float d0 = d[0];
  if (!isnan(d0))
    for (int e = 0; e < n; e++) d[e] = d[e] - d0;
  double lon = NAN, lat = NAN;
  if (v->c.has_grid) tools_xy_point(&v->c.grid, (uint32_t)x, (uint32_t)y, &lon, &lat);
  tsdir_text t = {0};
  tsdir_text_printf(&t, "{\"x\": %ld, \"y\": %ld, \"lon\": ", x, y);
  json_num(&t, lon);
  tsdir_text_printf(&t, ", \"lat\": ");
  json_num(&t, lat);
  tsdir_text_printf(&t, ", \"vel\": ");
  json_num(&t, vel);
  tsdir_text_printf(&t, ", \"mm\": [");
  for (int e = 0; e < n; e++) {
    if (e) tsdir_text_printf(&t, ", ");
    json_num(&t, d[e]);
  }
  tsdir_text_printf(&t, "]}\n");
  free(d);
  return send_text(fd, &t, "application/json");
}

/* One connection: reads the request head, answers. Returns 0 (also when the client misbehaved
 * or went away) or a status of the server's own failure. */
static int serve_one(view *v, int fd) {
  char req[8192];
  size_t have = 0;
  while (have < sizeof req - 1) {
    size_t got = 0;
    if (plat_recv_some(fd, req + have, sizeof req - 1 - have, &got) || got == 0) break;
    have += got;
    req[have] = 0;
    if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n")) break;
  }
  req[have] = 0;
  char method[8], target[1024];
  if (sscanf(req, "%7s %1023s", method, target) != 2) {
    send_error(fd, 400, "not an HTTP request");
    return 0;
  }
  if (strcmp(method, "GET")) {
    send_error(fd, 405, "only GET");
    return 0;
  }
  char *query = strchr(target, '?');
  if (query) *query++ = 0;
  int st = 0;
  if (!strcmp(target, "/") || !strcmp(target, "/index.html")) send_body(fd, 200, "text/html; charset=utf-8", PAGE, sizeof PAGE - 1);
  else if (!strcmp(target, "/meta.json")) serve_meta(v, fd);
  else if (!strcmp(target, "/vel.f32")) st = serve_vel(v, fd);
  else if (!strcmp(target, "/ts.json")) st = serve_ts(v, fd, query ? query : "");
  else send_error(fd, 404, "no such page");
  if (st > 0) send_error(fd, 500, v->ctx->msg);
  return st > 0 ? st : 0;
}

/* ---- setup ------------------------------------------------------------------------------------ */

static int open_vel(view *v, const char *file) {
  cbas_ctx *ctx = v->ctx;
  if (file) {
    snprintf(v->vel_path, sizeof v->vel_path, "%s", file);
  } else {
    static const char *const FILT[] = {"vel.filt.mskd.tif", "vel.filt.tif", "vel.mskd.tif", "vel.tif"};
    static const char *const UNF[] = {"vel.mskd.tif", "vel.tif"};
    const char *const *names = v->c.filtered ? FILT : UNF;
    int nn = v->c.filtered ? 4 : 2;
    if (!v->c.tsdir[0]) return ctx_fail(ctx, CBAS_EUSAGE, "%s is not in a TSDIR: give the velocity map with --vel FILE", v->c.path);
    v->vel_path[0] = 0;
    for (int i = 0; i < nn && !v->vel_path[0]; i++) {
      char p[1100];
      if (tools_ts_file(ctx, &v->c, "results", names[i], p, sizeof p)) return ctx->status;
      if (tools_file_exists(p)) snprintf(v->vel_path, sizeof v->vel_path, "%s", p);
    }
    if (!v->vel_path[0])
      return ctx_fail(ctx, CBAS_EUSAGE, "%s/results has no velocity map (vel*.tif): run cbas invert, or give --vel FILE",
                      v->c.tsdir);
  }
  if (gt_open(ctx, v->vel_path, &v->vel)) return ctx->status;
  const gt_info *in = gt_get_info(v->vel);
  if (in->width != v->c.width || in->height != v->c.length)
    return ctx_fail(ctx, CBAS_EFORMAT, "%s: %ux%u pixels, %s has %ux%u", v->vel_path, in->width, in->height, v->c.path,
                    v->c.width, v->c.length);
  uint64_t per_row = (uint64_t)v->c.width * 4, rows = (1u << 20) / per_row;
  v->n_rows = (uint32_t)(rows < 1 ? 1 : rows > v->c.length ? v->c.length : rows);
  v->rows = budget_alloc(ctx, (size_t)(per_row * v->n_rows), "cbas view: velocity rows");
  return ctx->status;
}

static int run_view(cbas_ctx *ctx, const view_opts *o) {
  view v;
  memset(&v, 0, sizeof v);
  v.ctx = ctx;
  lb_range ref;
  int lfd = -1, port = 0;
  if (tools_in_open(ctx, &o->in, &v.c, &v.mask, &ref, &v.have_ref, v.ref_desc, sizeof v.ref_desc)) goto done;
  v.refv = malloc((size_t)v.c.n_epoch * sizeof *v.refv);
  if (!v.refv) { ctx_fail(ctx, CBAS_ENOMEM, "out of memory"); goto done; }
  if (tools_ref_values(ctx, &v.c, v.mask, &ref, v.have_ref, v.ref_desc, 0, v.c.n_epoch, v.refv) || open_vel(&v, o->vel))
    goto done;
  int e = plat_tcp_listen(o->bind, o->port, &lfd, &port);
  if (e) {
    ctx_fail(ctx, CBAS_EIO, "cannot listen on %s port %d: %s", o->bind, o->port, plat_strerror(e));
    goto done;
  }
  printf("cbas view: %s (%d epochs) at http://%s:%d/  (Ctrl-C stops)\n", v.c.path, v.c.n_epoch,
         strcmp(o->bind, "0.0.0.0") ? o->bind : "this-machine", port);
  fflush(stdout);
  for (long served = 0; !ctx->status && (o->max_req <= 0 || served < o->max_req); served++) {
    int cfd;
    e = plat_tcp_accept(lfd, 10, &cfd);
    if (e) {
      ctx_fail(ctx, CBAS_EIO, "accept on port %d failed: %s", port, plat_strerror(e));
      break;
    }
    serve_one(&v, cfd);
    plat_close(cfd);
  }
done:
  if (lfd >= 0) plat_close(lfd);
  free(v.refv);
  budget_free(ctx, v.rows);
  if (v.vel) gt_close(ctx, v.vel);
  if (v.mask) gt_close(ctx, v.mask);
  tools_cum_close(ctx, &v.c);
  return ctx->status;
}

int cmd_view(int argc, char **argv) {
  view_opts o;
  memset(&o, 0, sizeof o);
  tools_in_defaults(&o.in);
  o.bind = "127.0.0.1";
  o.port = 8000;
  cli_opt opts[TOOLS_IN_N_OPTS + 4] = {
      {"vel", CLI_STR, &o.vel, "FILE", "velocity map to show (default: the TSDIR's vel.filt.mskd/vel.filt/vel.mskd/vel)"},
      {"bind", CLI_STR, &o.bind, "IPV4", "address to listen on (default 127.0.0.1; 0.0.0.0 = the local network)"},
      {"port", CLI_INT, &o.port, "N", "TCP port (default 8000; 0 = any free one, printed)"},
      {"max-requests", CLI_INT, &o.max_req, "N", "stop after N requests (default: run until stopped)"},
  };
  tools_in_cli(opts + 4, &o.in);
  cli_common common;
  char err[512];
  int st = cli_parse("view", "--ts TSDIR | --cum FILE.tif [--vel FILE] [--ref ... | --ref-geo ... | --ref-lon X --ref-lat Y] [--mask] [--bind IPV4] [--port N]",
                     "A viewer in the browser, served by cbas (no internet needed): the velocity map; click a "
                     "pixel for its displacement time series (as cbas ts), shift-click a pixel to show the "
                     "others relative to it. --bind 0.0.0.0 lets a laptop on the same network view the results "
                     "of a Raspberry Pi.",
                     opts, (int)(sizeof opts / sizeof opts[0]), argc, argv, &common, err, sizeof err);
  if (st == 1) return 0;
  if (st) { fprintf(stderr, "cbas view: %s\n", err); return 2; }
  cbas_ctx ctx;
  if (!cli_ctx_init(&ctx, &common)) run_view(&ctx, &o);
  return cli_finish(&ctx, "view");
}

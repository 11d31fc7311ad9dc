#!/usr/bin/env bash
# Opens a lens4j report.html in headless Chromium and checks what a reader would see:
#   every element with class "plot" rendered a non-empty <svg> with a real on-screen size,
#   no script errors, no network/resource loads (the page must work offline),
# then saves a screenshot. Exit 0 when all hold, 1 when a check fails, 2 on usage, 3 without Chromium.
#
# usage: scripts/check-report.sh [--expect-plots N] [--height PX] report.html [screenshot.png]
#   CHROMIUM=/path/to/chrome overrides the browser; the screenshot defaults to report.png beside the report.
set -euo pipefail

expect="" height=2000
while [[ $# -gt 0 ]]; do
  case "$1" in
    --expect-plots) expect="$2"; shift 2 ;;
    --height) height="$2"; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    --) shift; break ;;
    -*) echo "check-report: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
[[ $# -ge 1 && $# -le 2 ]] || { echo "usage: $0 [--expect-plots N] [--height PX] report.html [screenshot.png]" >&2; exit 2; }
report="$(realpath "$1")"
[[ -f "$report" ]] || { echo "check-report: no such file: $1" >&2; exit 2; }
shot="${2:-${report%.html}.png}"
shot="$(realpath -m "$shot")"

chrome="${CHROMIUM:-$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)}"
[[ -n "$chrome" ]] || { echo "check-report: chromium not found (apt-get install -y chromium)" >&2; exit 3; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking
       --disable-component-update --disable-sync --hide-scrollbars)

# A copy of the page with a probe first in <head>: it collects errors from anything that runs after it, and
# on load records per-plot render results as attributes on <html>, which --dump-dom then shows us.
probe='<script>(function(){var errs=[];
window.addEventListener("error",function(e){errs.push(String(e.message||("failed to load "+((e.target&&(e.target.src||e.target.href))||e.type))));},true);
window.addEventListener("unhandledrejection",function(e){errs.push("unhandled rejection: "+e.reason);});
window.addEventListener("load",function(){
 var plots=document.querySelectorAll(".plot"),bad=[];
 for(var i=0;i<plots.length;i++){var p=plots[i],s=p.querySelector("svg"),id=p.id||("#"+i);
  if(!s){bad.push(id+":no-svg");continue;}
  var r=s.getBoundingClientRect(),bb={width:0,height:0};try{bb=s.getBBox();}catch(x){}
  if(s.childElementCount<3)bad.push(id+":empty-svg");
  else if(r.width<100||r.height<80)bad.push(id+":collapsed-"+Math.round(r.width)+"x"+Math.round(r.height));
  else if(bb.width<20||bb.height<20)bad.push(id+":nothing-drawn");}
 var res=performance.getEntriesByType("resource").map(function(e){return e.name;}).filter(function(n){return n.indexOf("data:")!==0;});
 var h=document.documentElement;
 h.setAttribute("data-l4j-plots",String(plots.length));
 h.setAttribute("data-l4j-bad",bad.join(" "));
 h.setAttribute("data-l4j-errors",errs.join(" | "));
 h.setAttribute("data-l4j-resources",res.join(" "));
 h.setAttribute("data-l4j-done","1");});})();</script>'
# the copy lives in a temp dir, so a relative reference (there must be none) fails to load and is reported
probed="$work/probed.html"
PROBE="$probe" perl -0pe 's/<head([^>]*)>/"<head$1>".$ENV{PROBE}/ie' "$report" > "$probed"
grep -q 'data-l4j-done' "$probed" || { echo "check-report: no <head> in $report" >&2; exit 1; }

timeout 120 "$chrome" "${flags[@]}" --user-data-dir="$work/profile1" --virtual-time-budget=5000 \
  --dump-dom "file://$probed" > "$work/dom.html" 2> "$work/chrome-dom.log" || {
  echo "check-report: chromium failed to load the page:" >&2; tail -20 "$work/chrome-dom.log" >&2; exit 1; }

attr() { grep -o "data-l4j-$1=\"[^\"]*\"" "$work/dom.html" | head -1 | sed -e "s/^data-l4j-$1=\"//" -e 's/"$//'; }
fail=0
if [[ "$(attr done)" != "1" ]]; then
  echo "FAIL: the load handler never ran (page did not finish loading)"; fail=1
fi
plots="$(attr plots)"; bad="$(attr bad)"; errors="$(attr errors)"; resources="$(attr resources)"
echo "plots: ${plots:-0} found"
# a report must draw plots; a page that says it has none (--expect-plots 0, e.g. a neuron browser page) need not
if [[ "$expect" != "0" && ( -z "$plots" || "$plots" -eq 0 ) ]]; then echo "FAIL: no element with class \"plot\""; fail=1; fi
if [[ -n "$expect" && "$plots" != "$expect" ]]; then echo "FAIL: expected $expect plots"; fail=1; fi
if [[ -n "$bad" ]]; then echo "FAIL: plots that did not render: $bad"; fail=1; else echo "plots: all rendered an svg with content"; fi
if [[ -n "$errors" ]]; then echo "FAIL: script errors: $errors"; fail=1; else echo "script errors: none"; fi
if [[ -n "$resources" ]]; then echo "FAIL: the page loaded resources: $resources"; fail=1; else echo "resource loads: none"; fi

timeout 120 "$chrome" "${flags[@]}" --user-data-dir="$work/profile2" --virtual-time-budget=5000 \
  --window-size="1280,$height" --screenshot="$shot" "file://$report" > "$work/chrome-shot.log" 2>&1 || true
if [[ -s "$shot" ]]; then echo "screenshot: $shot"; else echo "FAIL: no screenshot written"; tail -20 "$work/chrome-shot.log"; fail=1; fi
exit $fail

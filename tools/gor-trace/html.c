/*
 * html.c - gor-trace --html: one self-contained page (no network: the
 * style, the script and the data are inline) with an SVG timeline.
 *
 * The page has a lane per P (class "lane lane-p": the slices that ran
 * there, coloured per goroutine, and ticks for wake-ups) and a lane per
 * goroutine (class "lane lane-g": running, runnable and blocked stretches,
 * as the text timeline's # + .), the text summary under it, hover
 * details (goroutine, P, M, times, why it stopped, who woke it), and zoom:
 * the mouse wheel zooms around the pointer, dragging pans, the buttons
 * zoom around the middle and reset.
 *
 * The data is embedded as JSON (jansson) in a <script type=
 * "application/json"> element, with every '<' written as \u003c so that no
 * goroutine name can close the element. Times are integer nanoseconds.
 *
 * For tests: window.onerror appends each script error to #errors as a
 * div.gor-error and sets data-gor-error on <body>; when the first drawing
 * is done the script sets data-gor-ready="1" on <body> and writes the
 * lane counts into #status. tests/html_check.sh loads the page in headless
 * Chromium and checks both.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gortrace.h"

static const char page_head[] =
	"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	"<meta name=\"viewport\" content=\"width=device-width\">\n<title>";

static const char page_style[] =
	"</title>\n<style>\n"
	"body{font:13px/1.4 sans-serif;margin:0;color:#222;background:#fafafa}\n"
	"#bar{position:sticky;top:0;background:#fff;border-bottom:1px solid #ccc;padding:6px 10px;z-index:2}\n"
	"#bar button{margin-left:4px}\n#status{margin-left:12px;color:#666}\n"
	"#errors .gor-error{color:#b00;padding:4px 10px}\n"
	"#wrap{padding:6px 10px;overflow-x:hidden}\n"
	"svg{display:block;user-select:none;cursor:grab}\n"
	"svg .bg{fill:#fff;stroke:#ddd}\nsvg .label{font:12px monospace;fill:#333}\n"
	"svg .axis{font:11px sans-serif;fill:#666}\nsvg .tick{stroke:#eee}\n"
	"svg .run{stroke:none}\nsvg .st-run{fill:#3a7bd5}\nsvg .st-runnable{fill:#f0b429}\n"
	"svg .st-blocked{fill:#d8d8d8}\nsvg .wake{stroke:#c00;stroke-width:1}\n"
	"#tip{position:fixed;display:none;background:#ffffe8;border:1px solid #999;padding:4px 6px;"
	"font:12px monospace;white-space:pre;pointer-events:none;z-index:3}\n"
	"pre{margin:10px;font:12px monospace}\n"
	"</style>\n<script>\nwindow.onerror=function(msg,src,line,col){"
	"var e=document.getElementById('errors');var d=document.createElement('div');"
	"d.className='gor-error';d.textContent='script error: '+msg+' (line '+line+')';"
	"if(e)e.appendChild(d);document.body&&document.body.setAttribute('data-gor-error','1');};\n"
	"</script>\n</head>\n<body>\n"
	"<div id=\"bar\"><b>gor trace</b> <span id=\"info\"></span>"
	" <button id=\"zin\" title=\"zoom in\">+</button><button id=\"zout\" title=\"zoom out\">&minus;</button>"
	"<button id=\"reset\">reset</button><span id=\"status\">loading</span>"
	" <span style=\"color:#888\">(wheel: zoom, drag: pan)</span></div>\n"
	"<div id=\"errors\"></div>\n<div id=\"wrap\"><svg id=\"tl\" xmlns=\"http://www.w3.org/2000/svg\"></svg></div>\n"
	"<div id=\"tip\"></div>\n<pre id=\"summary\">";

/* The drawing script. D is the embedded data (see putdata). */
static const char page_script[] =
	"(function(){\n"
	"var D=JSON.parse(document.getElementById('gor-data').textContent);\n"
	"var NS='http://www.w3.org/2000/svg',svg=document.getElementById('tl'),tip=document.getElementById('tip');\n"
	"var LANE=16,GAP=4,LABELW=170,AXIS=22,MAXG=300;\n"
	"var S=D.slices,END=Math.max(D.end,1),view={a:0,b:END};\n"
	/* slice: [p, g, t0, t1, end, reason, nth, m] */
	"var perP=[],perG=[],i,p,g;\n"
	"for(p=0;p<D.nlanes;p++)perP.push([]);\n"
	"for(g=0;g<D.gs.length;g++)perG.push([]);\n"
	"for(i=0;i<S.length;i++){perP[S[i][0]].push(i);perG[S[i][1]].push(i);}\n"
	"var wakesG=[];for(g=0;g<D.gs.length;g++)wakesG.push([]);\n"
	"for(i=0;i<D.wakes.length;i++){var w=D.wakes[i];if(w[1]>=0)wakesG[w[1]].push(w);}\n"
	/* goroutine intervals: [t0, t1, state, the run it follows or -1] */
	"function intervals(g){var out=[],sl=perG[g],wk=wakesG[g],j=0;\n"
	" if(D.gs[g][3]>=0&&sl.length)out.push([D.gs[g][3],S[sl[0]][2],'runnable',-1]);\n"
	" for(var k=0;k<sl.length;k++){var s=S[sl[k]];out.push([s[2],s[3],'run',sl[k]]);\n"
	"  var end=D.ends[s[4]];if(end==='exit'||end==='running')continue;\n"
	"  var until=k+1<sl.length?S[sl[k+1]][2]:END;\n"
	"  if(end==='block'||end==='syscall'||end==='unknown'){while(j<wk.length&&wk[j][0]<s[3])j++;\n"
	"   var woke=(j<wk.length&&wk[j][0]<=until)?wk[j][0]:until;\n"
	"   out.push([s[3],woke,'blocked',sl[k]]);out.push([woke,until,'runnable',sl[k]]);}\n"
	"  else out.push([s[3],until,'runnable',sl[k]]);}\n"
	" return out;}\n"
	"var gint=[];for(g=0;g<Math.min(D.gs.length,MAXG);g++)gint.push(intervals(g));\n"
	"function gname(g){var x=D.gs[g];return 'g'+x[0]+(x[1]?' '+x[1]:'');}\n"
	"function fmt(ns){ns=Math.max(0,ns);if(ns>=1e6)return (ns/1e6).toFixed(3)+' ms';"
	"if(ns>=1e3)return (ns/1e3).toFixed(3)+' us';return Math.round(ns)+' ns';}\n"
	"function color(g){return 'hsl('+((g*137.508)%360).toFixed(1)+',62%,52%)';}\n"
	"function el(tag,a,parent){var e=document.createElementNS(NS,tag);for(var k in a)e.setAttribute(k,a[k]);"
	"if(parent)parent.appendChild(e);return e;}\n"
	"var geom={k:1,plotW:1};\n"
	"function X(t){return LABELW+(t-view.a)*geom.k;}\n"
	"function rect(parent,t0,t1,y,attrs){if(t1<view.a||t0>view.b)return;\n"
	" var x0=Math.max(X(t0),LABELW),x1=Math.min(X(t1),LABELW+geom.plotW);\n"
	" attrs.x=x0.toFixed(2);attrs.y=y;attrs.width=Math.max(x1-x0,0.6).toFixed(2);attrs.height=LANE;el('rect',attrs,parent);}\n"
	"function draw(){\n"
	" while(svg.firstChild)svg.removeChild(svg.firstChild);\n"
	" var W=Math.max(500,document.getElementById('wrap').clientWidth-4);\n"
	" geom.plotW=W-LABELW-8;geom.k=geom.plotW/Math.max(view.b-view.a,1);\n"
	" var nl=D.nlanes+gint.length,H=AXIS+nl*(LANE+GAP)+8;\n"
	" svg.setAttribute('width',W);svg.setAttribute('height',H);\n"
	" var ax=el('g',{'class':'axis-group'},svg);\n"
	" for(var q=0;q<=8;q++){var t=view.a+(view.b-view.a)*q/8,x=X(t);\n"
	"  el('line',{x1:x,x2:x,y1:AXIS-4,y2:H,'class':'tick'},ax);\n"
	"  var tx=el('text',{x:Math.min(x,W-70),y:AXIS-8,'class':'axis'},ax);tx.textContent=fmt(t);}\n"
	" var y=AXIS,lane,gp,j;\n"
	" for(p=0;p<D.nlanes;p++,y+=LANE+GAP){\n"
	"  lane=el('g',{'class':'lane lane-p','data-lane':'P'+p},svg);\n"
	"  el('rect',{x:LABELW,y:y,width:geom.plotW,height:LANE,'class':'bg'},lane);\n"
	"  el('text',{x:4,y:y+LANE-4,'class':'label'},lane).textContent='P'+p;\n"
	"  var list=perP[p];for(j=0;j<list.length;j++){var s=S[list[j]];\n"
	"   rect(lane,s[2],s[3],y,{'class':'run','fill':color(s[1]),'data-s':list[j]});}\n"
	"  for(j=0;j<D.wakes.length;j++){var w=D.wakes[j];if(w[3]!==p||w[0]<view.a||w[0]>view.b)continue;\n"
	"   var wx=X(w[0]);el('line',{x1:wx,x2:wx,y1:y,y2:y+4,'class':'wake','data-w':j},lane);}\n"
	" }\n"
	" for(g=0;g<gint.length;g++,y+=LANE+GAP){\n"
	"  lane=el('g',{'class':'lane lane-g','data-lane':'G'+D.gs[g][0]},svg);\n"
	"  el('rect',{x:LABELW,y:y,width:geom.plotW,height:LANE,'class':'bg'},lane);\n"
	"  el('text',{x:4,y:y+LANE-4,'class':'label'},lane).textContent=(D.gs[g][2]+'  '+gname(g)).slice(0,22);\n"
	"  var iv=gint[g];for(j=0;j<iv.length;j++){var v=iv[j];\n"
	"   rect(lane,v[0],v[1],y,{'class':'run st-'+v[2],'data-g':g,'data-i':j});}\n"
	" }\n"
	" document.getElementById('status').textContent='ready: '+D.nlanes+' P lanes, '+gint.length+' goroutine lanes'+"
	"(D.gs.length>gint.length?' (of '+D.gs.length+')':'')+', showing '+fmt(view.a)+' .. '+fmt(view.b);\n"
	"}\n"
	"function sliceinfo(i){var s=S[i],t=gname(s[1])+'  ('+D.gs[s[1]][2]+s[6]+')\\n'+'P'+s[0]+'  M'+s[7]+'\\n'+"
	"'start '+fmt(s[2])+'  ran '+fmt(s[3]-s[2])+'\\nend: '+D.ends[s[4]];\n"
	" if(s[5]>=0)t+=' ('+D.reasons[s[5]]+')';return t;}\n"
	"svg.addEventListener('mousemove',function(e){var a=e.target,t=null;\n"
	" if(a.hasAttribute('data-s'))t=sliceinfo(+a.getAttribute('data-s'));\n"
	" else if(a.hasAttribute('data-i')){var v=gint[+a.getAttribute('data-g')][+a.getAttribute('data-i')];\n"
	"  t=gname(+a.getAttribute('data-g'))+': '+v[2]+'\\n'+fmt(v[0])+' .. '+fmt(v[1])+' ('+fmt(v[1]-v[0])+')';\n"
	"  if(v[3]<0)t+='\\nnew, not run yet';\n"
	"  else if(v[2]!=='run'&&S[v[3]][5]>=0)t+='\\nafter: '+D.ends[S[v[3]][4]]+' ('+D.reasons[S[v[3]][5]]+')';}\n"
	" else if(a.hasAttribute('data-w')){var w=D.wakes[+a.getAttribute('data-w')];\n"
	"  t='wake g'+w[2]+' at '+fmt(w[0])+'\\nby '+(w[4]==='goroutine'?'g'+w[5]:w[4]);}\n"
	" if(drag){tip.style.display='none';return;}\n"
	" if(t===null){tip.style.display='none';return;}\n"
	" tip.textContent=t;tip.style.display='block';tip.style.left=(e.clientX+12)+'px';tip.style.top=(e.clientY+12)+'px';});\n"
	"svg.addEventListener('mouseleave',function(){tip.style.display='none';});\n"
	"function zoom(f,at){var span=(view.b-view.a)*f;span=Math.max(span,50);span=Math.min(span,END*1.5);\n"
	" var r=(at-view.a)/(view.b-view.a);view.a=at-r*span;view.b=view.a+span;draw();}\n"
	"svg.addEventListener('wheel',function(e){e.preventDefault();var r=svg.getBoundingClientRect();\n"
	" var x=e.clientX-r.left;if(x<LABELW)return;zoom(e.deltaY<0?0.8:1.25,view.a+(x-LABELW)/geom.k);},{passive:false});\n"
	"var drag=null;\n"
	"svg.addEventListener('mousedown',function(e){drag={x:e.clientX,a:view.a,b:view.b};});\n"
	"window.addEventListener('mouseup',function(){drag=null;});\n"
	"window.addEventListener('mousemove',function(e){if(!drag)return;var d=(e.clientX-drag.x)/geom.k;\n"
	" view.a=drag.a-d;view.b=drag.b-d;draw();});\n"
	"document.getElementById('zin').onclick=function(){zoom(0.5,(view.a+view.b)/2);};\n"
	"document.getElementById('zout').onclick=function(){zoom(2,(view.a+view.b)/2);};\n"
	"document.getElementById('reset').onclick=function(){view={a:0,b:END};draw();};\n"
	"window.addEventListener('resize',draw);\n"
	"document.getElementById('info').textContent=D.title+': '+fmt(D.end)+', MAXPROCS '+D.maxprocs+', '+"
	"D.gs.length+' goroutines, '+S.length+' runs';\n"
	"draw();\n"
	"document.body.setAttribute('data-gor-ready','1');\n"
	"})();\n";

static void putescaped(FILE *out, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '&': fputs("&amp;", out); break;
		case '"': fputs("&quot;", out); break;
		default: fputc(*s, out);
		}
	}
}

static json_t *strarray(const char *const *names, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(names[i]));
	return a;
}

/* The data the script draws, as one JSON object. */
static json_t *pagedata(const struct gt_trace *t, const char *title)
{
	json_t *d = json_object(), *gs = json_array(), *sl = json_array(), *wk = json_array();
	json_t *reasons = json_array();
	for (size_t i = 0; i < t->ngs; i++)
		json_array_append_new(gs, json_pack("[IssI]", (json_int_t)t->gs[i].id,
						    t->gs[i].name ? t->gs[i].name : "", t->gs[i].label,
						    (json_int_t)t->gs[i].created));
	for (size_t i = 0; i < t->nslices; i++) {
		const struct gt_slice *s = &t->slices[i];
		json_array_append_new(sl, json_pack("[iiIIiiiI]", s->p, s->g, (json_int_t)s->t0,
						    (json_int_t)s->t1, s->end, s->reason, s->nth,
						    (json_int_t)s->m));
	}
	for (size_t i = 0; i < t->nwakes; i++) {
		const struct gt_wake *w = &t->wakes[i];
		json_array_append_new(wk, json_pack("[IiIisI]", (json_int_t)w->t, w->g, (json_int_t)w->goid,
						    w->p, gt_srcnames[w->src], (json_int_t)w->by));
	}
	for (size_t i = 0; i < t->nreasons; i++)
		json_array_append_new(reasons, json_string(t->reasons[i]));
	json_object_set_new(d, "title", json_string(title));
	json_object_set_new(d, "end", json_integer(t->end));
	json_object_set_new(d, "nlanes", json_integer(t->nlanes));
	json_object_set_new(d, "maxprocs", json_integer(t->maxprocs));
	json_object_set_new(d, "gs", gs);
	json_object_set_new(d, "slices", sl);
	json_object_set_new(d, "wakes", wk);
	json_object_set_new(d, "reasons", reasons);
	json_object_set_new(d, "ends", strarray(gt_endnames, GT_NEND));
	return d;
}

int gt_html(const struct gt_trace *t, const char *title, FILE *out)
{
	json_t *d = pagedata(t, title);
	char *json = d ? json_dumps(d, JSON_COMPACT) : NULL;
	json_decref(d);
	char *summary = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&summary, &len);
	if (json == NULL || mem == NULL) {
		free(json);
		if (mem)
			fclose(mem);
		free(summary);
		return -1;
	}
	gt_summary(t, mem);
	fclose(mem);
	fputs(page_head, out);
	putescaped(out, title);
	fputs(page_style, out);
	putescaped(out, summary);
	fputs("</pre>\n<script id=\"gor-data\" type=\"application/json\">", out);
	for (const char *s = json; *s; s++) {
		if (*s == '<')
			fputs("\\u003c", out);
		else
			fputc(*s, out);
	}
	fputs("</script>\n<script>\n", out);
	fputs(page_script, out);
	fputs("</script>\n</body>\n</html>\n", out);
	free(json);
	free(summary);
	return ferror(out) ? -1 : 0;
}

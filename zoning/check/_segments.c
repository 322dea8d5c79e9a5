/*
 * Nearest boundary segment among each point's candidates (zoning.check.nearest).
 *
 * The k-d search of zoning/check/nearest.py gives each point k candidate segments;
 * this loop measures them and picks the nearest, in one pass over each point's
 * candidates, without the GIL. In numpy the same work took a dozen passes over
 * (points, k) arrays: five gathers and the arithmetic's temporaries cost more than
 * the k-d query itself (benchmarks/RESULTS.md, 2026-12-07).
 *
 * The arithmetic is the one documented in nearest.py (_Segments.choose), operation
 * by operation, in IEEE double precision: built with -ffp-contract=off (setup in
 * pyproject.toml), so that no compiler fuses a multiply and an add and every build
 * gives the same bits. Plain C and the buffer protocol: no numpy headers to build.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <string.h>

/* A buffer of doubles, intp or bools, checked: its dimensions and item kind. */
static int
get(PyObject *obj, Py_buffer *view, int ndim, char kind, int writable, int strided,
    const char *name)
{
    int flags = PyBUF_FORMAT | PyBUF_STRIDES | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0)
        return -1;
    const char *f = view->format ? view->format : "B";
    if (*f == '<' || *f == '=' || *f == '@')
        f++;
    int ok = view->ndim == ndim;
    if (kind == 'd')
        ok = ok && view->itemsize == 8 && f[0] == 'd';
    else if (kind == 'n')
        ok = ok && view->itemsize == (Py_ssize_t)sizeof(Py_ssize_t) && strchr("lqn", f[0]);
    else /* '?' */
        ok = ok && view->itemsize == 1 && f[0] == '?';
    if (ok && !strided) {
        Py_ssize_t step = view->itemsize;
        for (int d = ndim - 1; d >= 0 && ok; d--) {
            ok = view->shape[d] < 2 || view->strides[d] == step;
            step *= view->shape[d];
        }
    }
    if (!ok) {
        PyErr_Format(PyExc_TypeError, "%s: a %d-d %s array of '%c' expected", name, ndim,
                     strided ? "" : "C-contiguous", kind);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(choose_doc,
"choose(xy, cand, nseg, x0, y0, dx, dy, inv_l2, owner, d2, col, best2, nlow, mixed)\n"
"\n"
"Measure each point's candidate segments and choose the nearest.\n"
"\n"
"xy: float64 (n, 2); cand: intp (n, k), any strides, a value >= nseg meaning no\n"
"candidate (distance inf); x0, y0, dx, dy, inv_l2: float64 (nseg,) segment columns;\n"
"owner: intp (nseg,). Written: d2 float64 (n, k) squared distances; col intp (n,)\n"
"the chosen column (the first least, numpy's argmin; of several equally near\n"
"segments, the lowest owner's lowest segment); best2 float64 (n,) its d2; nlow intp\n"
"(n,) how many candidates equal it; mixed bool (n,) whether those belong to\n"
"several owners.");

static PyObject *
choose(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *o[14];
    Py_ssize_t nseg;
    if (!PyArg_ParseTuple(args, "OOnOOOOOOOOOOO", &o[0], &o[1], &nseg, &o[2], &o[3], &o[4],
                          &o[5], &o[6], &o[7], &o[8], &o[9], &o[10], &o[11], &o[12]))
        return NULL;
    static const int ndim[13] = {2, 2, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1};
    static const char kind[13] = {'d', 'n', 'd', 'd', 'd', 'd', 'd', 'n', 'd', 'n', 'd', 'n', '?'};
    static const char *names[13] = {"xy", "cand", "x0", "y0", "dx", "dy", "inv_l2", "owner",
                                    "d2", "col", "best2", "nlow", "mixed"};
    Py_buffer v[13];
    int got = 0;
    for (; got < 13; got++)
        /* only the candidates may be strided (broadcast rows of every segment) */
        if (get(o[got], &v[got], ndim[got], kind[got], got >= 8, got == 1, names[got]) < 0)
            goto fail;
    Py_ssize_t n = v[1].shape[0], k = v[1].shape[1];
    int shapes_ok = v[0].shape[0] == n && v[0].shape[1] == 2 && v[8].shape[0] == n &&
                    v[8].shape[1] == k && nseg >= 0 && v[7].shape[0] >= nseg;
    for (int a = 2; a < 7; a++)
        shapes_ok = shapes_ok && v[a].shape[0] >= nseg;
    for (int a = 9; a < 13; a++)
        shapes_ok = shapes_ok && v[a].shape[0] == n;
    if (!shapes_ok) {
        PyErr_SetString(PyExc_ValueError, "choose: array shapes do not match");
        goto fail;
    }
    const double *xy = v[0].buf, *x0 = v[2].buf, *y0 = v[3].buf, *dx = v[4].buf,
                 *dy = v[5].buf, *il = v[6].buf;
    const Py_ssize_t *owner = v[7].buf;
    const char *cbase = v[1].buf;
    Py_ssize_t rs = v[1].strides[0], cs = v[1].strides[1];
    double *d2 = v[8].buf, *best2 = v[10].buf;
    Py_ssize_t *col = v[9].buf, *nlow = v[11].buf;
    char *mixed = v[12].buf;

    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        const char *row = cbase + i * rs;
        double *d = d2 + i * k;
        double px = xy[2 * i], py = xy[2 * i + 1];
        double m = INFINITY;
        Py_ssize_t j = 0;
        int m_nan = 0;
        for (Py_ssize_t c = 0; c < k; c++) {
            Py_ssize_t s = *(const Py_ssize_t *)(row + c * cs);
            double val;
            if (s < 0 || s >= nseg) {
                val = INFINITY;
            } else { /* _Segments.measure, operation by operation */
                double ux = px - x0[s], uy = py - y0[s];
                double a = ux * dx[s], b = uy * dy[s];
                double t = (a + b) * il[s];
                if (t < 0.0)
                    t = 0.0; /* (a NaN stays NaN, as with np.maximum) */
                if (t > 1.0)
                    t = 1.0;
                double tx = t * dx[s], ty = t * dy[s];
                ux = ux - tx;
                uy = uy - ty;
                double xx = ux * ux, yy = uy * uy;
                val = xx + yy;
            }
            d[c] = val;
            if (!m_nan) { /* numpy's argmin: the first NaN, else the first least */
                if (isnan(val)) {
                    m_nan = 1;
                    m = val;
                    j = c;
                } else if (val < m) {
                    m = val;
                    j = c;
                }
            }
        }
        Py_ssize_t count = 0;
        for (Py_ssize_t c = 0; c < k; c++)
            count += d[c] == m;
        char several = 0;
        if (count > 1 && isfinite(m)) { /* the lowest owner, then its lowest segment */
            Py_ssize_t low = PY_SSIZE_T_MAX, high = -1, best = PY_SSIZE_T_MAX;
            for (Py_ssize_t c = 0; c < k; c++) {
                if (d[c] != m)
                    continue;
                Py_ssize_t s = *(const Py_ssize_t *)(row + c * cs);
                Py_ssize_t w = owner[s];
                if (w > high)
                    high = w;
                if (w < low || (w == low && s < best)) {
                    low = w;
                    best = s;
                    j = c;
                }
            }
            several = high != low;
        }
        col[i] = j;
        best2[i] = m;
        nlow[i] = count;
        mixed[i] = several;
    }
    Py_END_ALLOW_THREADS

    for (int a = 0; a < 13; a++)
        PyBuffer_Release(&v[a]);
    Py_RETURN_NONE;
fail:
    for (int a = 0; a < got; a++)
        PyBuffer_Release(&v[a]);
    return NULL;
}

static PyMethodDef methods[] = {
    {"choose", choose, METH_VARARGS, choose_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    .m_base = PyModuleDef_HEAD_INIT,
    .m_name = "_segments",
    .m_doc = "The candidate loop of zoning.check.nearest's k-d search, in C.",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__segments(void)
{
    return PyModule_Create(&module);
}

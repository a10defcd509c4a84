/*
 * Jaro-Winkler similarity of string pairs, for `engine.matching.similarity`.
 *
 * The value is rapidfuzz's `JaroWinkler.similarity(left, right)` with no cutoff, bit for
 * bit, which is what its batch calls (`cpdist`, `cdist`) answer for
 * `JaroWinkler.normalized_similarity` (a direct call of that one goes through 1 - distance
 * and can differ in the last bit below 0.5); prefix weight 0.1, at most 4 prefix
 * characters, the boost above a Jaro similarity of 0.7. tests/property/test_jaro_native.py
 * compares the two. rapidfuzz builds a pattern table of 256 words per 64 characters and
 * allocates per pair; on text longer than 64 characters that costs about three times the
 * work below, which keeps the left string's table in at most two words (left strings of
 * up to 128 code points) and reuses one table for every pair of a call.
 *
 * Jaro's matching (the greedy one of its definition): each character of the right string,
 * in order, takes the first untaken equal character of the left string at most
 * max(len)/2 - 1 positions away; transpositions are the matched characters that differ
 * when both strings' matched characters are read in order, halved.
 *
 * `pairs(left, right, out)` scores equally long lists of str into a writable buffer of
 * float64; `matrix(left, right, out)` scores every left string against every right one
 * into a buffer of len(left) * len(right) float64, row by row, setting each left string's
 * table once for its row. Both release the GIL while they compute; a pair they do not take
 * (a left string past 128 code points, a right one past 512) gets -1.0, and the count of
 * those is returned, for the caller to score elsewhere.
 *
 * `pairs_at(left_offsets, left_data, left_positions, right_offsets, right_data,
 * right_positions, out)` scores pair i as left string left_positions[i] against right
 * string right_positions[i], each side's strings UTF-8 in one byte buffer, string k at
 * data[offsets[k] .. offsets[k + 1]) (Arrow's large_string layout): the same doubles as
 * `pairs` on the same text as str, with no Python object per string and the GIL released
 * from the first pair to the last. An ASCII pair is scored on its bytes; any other is
 * decoded to code points first. Every position and its offsets are checked before its
 * bytes are read.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef unsigned __int128 u128;

#define HOT static inline __attribute__((always_inline))

#define MAX_LEFT 128
#define MAX_RIGHT 512
#define SLOTS 256 /* open addressing for code points from 256; a left string has <= 128 */

typedef struct {
    u128 low[256];
    uint32_t keys[SLOTS];
    u128 bits[SLOTS];
    uint8_t used[SLOTS];
    uint32_t left[MAX_LEFT];   /* a left string's code points (kinds 2 and 4) */
    uint32_t right[MAX_RIGHT]; /* a right string's */
} table;

HOT uint32_t slot_of(uint32_t c) { return (c * 2654435761u) & (SLOTS - 1); }

HOT u128 *slot(table *pm, uint32_t c, int insert) {
    uint32_t h = slot_of(c);
    while (pm->used[h]) {
        if (pm->keys[h] == c) return &pm->bits[h];
        h = (h + 1) & (SLOTS - 1);
    }
    if (!insert) return NULL;
    pm->used[h] = 1;
    pm->keys[h] = c;
    pm->bits[h] = 0;
    return &pm->bits[h];
}

HOT u128 get(table *pm, uint32_t c) {
    if (c < 256) return pm->low[c];
    const u128 *s = slot(pm, c, 0);
    return s ? *s : 0;
}

HOT void set(table *pm, uint32_t c, Py_ssize_t i) {
    if (c < 256) pm->low[c] |= (u128)1 << i;
    else *slot(pm, c, 1) |= (u128)1 << i;
}

HOT void unset(table *pm, uint32_t c) {
    if (c < 256) {
        pm->low[c] = 0;
        return;
    }
    /* clears the run from c's home slot on: every key of a run is reached from its own
       home, at or before its slot, so clearing each key's run from home clears them all */
    for (uint32_t h = slot_of(c); pm->used[h]; h = (h + 1) & (SLOTS - 1)) pm->used[h] = 0;
}

HOT u128 low_bits(Py_ssize_t n) { /* bits 0 .. n-1, n in 0 .. 128 */
    return n >= 128 ? ~(u128)0 : (((u128)1 << n) - 1);
}

HOT int lowest_bit(u128 x) {
    uint64_t low = (uint64_t)x;
    return low ? __builtin_ctzll(low) : 64 + __builtin_ctzll((uint64_t)(x >> 64));
}

/* Jaro-Winkler as rapidfuzz computes it, from the matched count and transpositions */
HOT double finish(Py_ssize_t plen, Py_ssize_t tlen, Py_ssize_t m, size_t trans,
                  Py_ssize_t prefix) {
    double sim = 0.0;
    if (m) {
        trans /= 2;
        sim += (double)m / (double)plen;
        sim += (double)m / (double)tlen;
        sim += ((double)m - (double)trans) / (double)m;
        sim /= 3.0;
    }
    if (sim > 0.7) {
        sim += (double)prefix * 0.1 * (1.0 - sim);
        if (sim > 1.0) sim = 1.0;
    }
    return sim;
}

/* one pair, both strings as arrays of CHAR (uint8_t or uint32_t), 1 <= plen <= the bits
   of WORD (uint64_t or u128), the left string's bits already in the table (`set` for
   each of its characters; a matrix sets a left string once for a whole row): the window
   of right position j, the left positions j - bound .. j + bound, moves as a mask shifted
   left once a position (the table holds no bit past plen, so the mask needs no upper
   clip) */
#define JARO_WINKLER(NAME, CHAR, WORD)                                                    \
    HOT double NAME(table *pm, const CHAR *p, Py_ssize_t plen, const CHAR *t,             \
                    Py_ssize_t tlen) {                                                    \
        Py_ssize_t most = plen < tlen ? plen : tlen, prefix = 0;                          \
        if (most > 4) most = 4;                                                           \
        while (prefix < most && p[prefix] == t[prefix]) prefix++;                         \
        if (plen == 1 && tlen == 1) return finish(1, 1, p[0] == t[0], 0, prefix);         \
        Py_ssize_t bound = (tlen > plen ? tlen : plen) / 2 - 1;                           \
        Py_ssize_t end = tlen < plen + bound ? tlen : plen + bound;                       \
        WORD taken = 0, window = (WORD)low_bits(bound + 1 < plen ? bound + 1 : plen);     \
        CHAR matched[MAX_LEFT + 1];                                                       \
        Py_ssize_t m = 0;                                                                 \
        for (Py_ssize_t j = 0; j < end; j++) {                                            \
            WORD hits = (WORD)get(pm, t[j]) & window & ~taken;                            \
            taken |= hits & (~hits + 1);                                                  \
            matched[m] = t[j];                                                            \
            m += hits != 0;                                                               \
            window = j < bound ? (WORD)((window << 1) | 1) : (WORD)(window << 1);         \
        }                                                                                 \
        size_t trans = 0;                                                                 \
        for (Py_ssize_t k = 0; taken; k++, taken &= taken - 1)                            \
            trans += p[lowest_bit((u128)taken)] != matched[k];                            \
        return finish(plen, tlen, m, trans, prefix);                                      \
    }

JARO_WINKLER(narrow64, uint8_t, uint64_t)
JARO_WINKLER(narrow128, uint8_t, u128)
JARO_WINKLER(wide64, uint32_t, uint64_t)
JARO_WINKLER(wide128, uint32_t, u128)

#define SET_LEFT(NAME, CHAR)                                                              \
    HOT void NAME##_set(table *pm, const CHAR *p, Py_ssize_t plen) {                      \
        for (Py_ssize_t i = 0; i < plen; i++) set(pm, p[i], i);                           \
    }                                                                                     \
    HOT void NAME##_unset(table *pm, const CHAR *p, Py_ssize_t plen) {                    \
        for (Py_ssize_t i = 0; i < plen; i++) unset(pm, p[i]);                            \
    }

SET_LEFT(narrow, uint8_t)
SET_LEFT(wide, uint32_t)

/* a left string set in the table against one right string, both of one width */
HOT double narrow(table *pm, const uint8_t *p, Py_ssize_t plen, const uint8_t *t,
                  Py_ssize_t tlen) {
    return plen <= 64 ? narrow64(pm, p, plen, t, tlen) : narrow128(pm, p, plen, t, tlen);
}

HOT double wide(table *pm, const uint32_t *p, Py_ssize_t plen, const uint32_t *t,
                Py_ssize_t tlen) {
    return plen <= 64 ? wide64(pm, p, plen, t, tlen) : wide128(pm, p, plen, t, tlen);
}

typedef struct {
    PyObject *str; /* a reference held while the GIL is released */
    const void *data;
    Py_ssize_t len;
    int kind;
} text;

static const uint32_t *widened(const text *s, uint32_t *into) {
    for (Py_ssize_t i = 0; i < s->len; i++) into[i] = PyUnicode_READ(s->kind, s->data, i);
    return into;
}

/* -1.0: not taken (see the top of the file) */
static double score(table *pm, const text *p, const text *t) {
    if (p->len > MAX_LEFT || t->len > MAX_RIGHT) return -1.0;
    if (p->len == 0 || t->len == 0) return p->len == t->len ? 1.0 : 0.0;
    double found;
    if (p->kind == PyUnicode_1BYTE_KIND && t->kind == PyUnicode_1BYTE_KIND) {
        narrow_set(pm, p->data, p->len);
        found = narrow(pm, p->data, p->len, t->data, t->len);
        narrow_unset(pm, p->data, p->len);
        return found;
    }
    const uint32_t *pw = widened(p, pm->left), *tw = widened(t, pm->right);
    wide_set(pm, pw, p->len);
    found = wide(pm, pw, p->len, tw, t->len);
    wide_unset(pm, pw, p->len);
    return found;
}

static int as_text(PyObject *o, text *s) {
    if (!PyUnicode_Check(o)) {
        PyErr_Format(PyExc_TypeError, "str expected, not %.80s", Py_TYPE(o)->tp_name);
        return -1;
    }
    if (PyUnicode_READY(o) < 0) return -1;
    Py_INCREF(o);
    s->str = o;
    s->data = PyUnicode_DATA(o);
    s->len = PyUnicode_GET_LENGTH(o);
    s->kind = PyUnicode_KIND(o);
    return 0;
}

/* `out` as a writable C-contiguous buffer of `cells` float64; TypeError or ValueError
   (and nothing held) if it is not one */
static int float64_buffer(PyObject *out, Py_ssize_t cells, Py_buffer *view) {
    if (PyObject_GetBuffer(out, view, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
        return -1;
    const char *format = view->format ? view->format : "B";
    if (format[0] == '@' || format[0] == '=' || format[0] == '<') format++;
    if (view->itemsize != (Py_ssize_t)sizeof(double) || strcmp(format, "d") != 0) {
        PyBuffer_Release(view);
        PyErr_SetString(PyExc_TypeError, "out: a float64 buffer expected");
        return -1;
    }
    if (view->len != cells * (Py_ssize_t)sizeof(double)) {
        PyBuffer_Release(view);
        PyErr_SetString(PyExc_ValueError, "out holds a float64 per score");
        return -1;
    }
    return 0;
}

static void release(text *texts, Py_ssize_t held) {
    for (Py_ssize_t i = 0; i < held; i++) Py_DECREF(texts[i].str);
}

static PyObject *pairs(PyObject *self, PyObject *args) {
    PyObject *left, *right, *out;
    (void)self;
    if (!PyArg_ParseTuple(args, "O!O!O", &PyList_Type, &left, &PyList_Type, &right, &out))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(left);
    if (PyList_GET_SIZE(right) != n) {
        PyErr_SetString(PyExc_ValueError, "left and right differ in length");
        return NULL;
    }
    Py_buffer view;
    if (float64_buffer(out, n, &view) < 0) return NULL;
    Py_ssize_t held = 0;
    text *texts = NULL;
    table *pm = NULL;
    texts = PyMem_RawMalloc(sizeof(text) * 2 * (size_t)(n ? n : 1));
    pm = calloc(1, sizeof(table));
    if (!texts || !pm) {
        PyErr_NoMemory();
        goto failed;
    }
    /* each string is referenced here until the scores are in, and str is immutable: its
       data stays put without the GIL, whatever another thread does to the lists */
    for (Py_ssize_t i = 0; i < 2 * n; i++) {
        if (as_text(PyList_GET_ITEM(i % 2 ? right : left, i / 2), &texts[i]) < 0) goto failed;
        held = i + 1;
    }
    double *scores = view.buf;
    Py_ssize_t skipped = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        scores[i] = score(pm, &texts[2 * i], &texts[2 * i + 1]);
        skipped += scores[i] < 0.0;
    }
    Py_END_ALLOW_THREADS
    release(texts, held);
    free(pm);
    PyMem_RawFree(texts);
    PyBuffer_Release(&view);
    return PyLong_FromSsize_t(skipped);
failed:
    release(texts, held);
    free(pm);
    PyMem_RawFree(texts);
    PyBuffer_Release(&view);
    return NULL;
}

/* the strings of `list` into `into` (held: one more reference each), and whether they are
   all one byte a character */
static int collect(PyObject *list, text *into, Py_ssize_t *held, int *narrow_only) {
    Py_ssize_t n = PyList_GET_SIZE(list);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (as_text(PyList_GET_ITEM(list, i), &into[i]) < 0) return -1;
        *held = i + 1;
        *narrow_only &= into[i].kind == PyUnicode_1BYTE_KIND;
    }
    return 0;
}

/* every string of `texts` that a matrix scores, as code points, one after the other in
   `into` (NULL: none needed); `at[i]`: where string i starts */
static uint32_t *widened_all(const text *texts, Py_ssize_t n, Py_ssize_t *at) {
    Py_ssize_t total = 0;
    for (Py_ssize_t i = 0; i < n; i++) total += texts[i].len;
    uint32_t *into = PyMem_RawMalloc(sizeof(uint32_t) * (size_t)(total ? total : 1));
    if (!into) return NULL;
    for (Py_ssize_t i = 0, start = 0; i < n; start += texts[i].len, i++) {
        at[i] = start;
        widened(&texts[i], into + start);
    }
    return into;
}

/* row i of a matrix: left string i against every right string (see `matrix`) */
static Py_ssize_t matrix_row(table *pm, const text *p, const text *rights, Py_ssize_t m,
                             const uint32_t *wide_text, const Py_ssize_t *wide_at,
                             Py_ssize_t left_at, double *row) {
    if (p->len > MAX_LEFT) {
        for (Py_ssize_t j = 0; j < m; j++) row[j] = -1.0;
        return m;
    }
    Py_ssize_t skipped = 0;
    const uint32_t *pw = wide_text ? wide_text + left_at : NULL;
    if (p->len) {
        if (pw) wide_set(pm, pw, p->len);
        else narrow_set(pm, p->data, p->len);
    }
    for (Py_ssize_t j = 0; j < m; j++) {
        const text *t = &rights[j];
        if (t->len > MAX_RIGHT) {
            row[j] = -1.0;
            skipped++;
        } else if (p->len == 0 || t->len == 0) {
            row[j] = p->len == t->len ? 1.0 : 0.0;
        } else if (pw) {
            row[j] = wide(pm, pw, p->len, wide_text + wide_at[j], t->len);
        } else {
            row[j] = narrow(pm, p->data, p->len, t->data, t->len);
        }
    }
    if (p->len) {
        if (pw) wide_unset(pm, pw, p->len);
        else narrow_unset(pm, p->data, p->len);
    }
    return skipped;
}

static PyObject *matrix(PyObject *self, PyObject *args) {
    PyObject *left, *right, *out;
    (void)self;
    if (!PyArg_ParseTuple(args, "O!O!O", &PyList_Type, &left, &PyList_Type, &right, &out))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(left), m = PyList_GET_SIZE(right);
    if (m && n > PY_SSIZE_T_MAX / (Py_ssize_t)sizeof(double) / m) {
        PyErr_SetString(PyExc_OverflowError, "matrix too large");
        return NULL;
    }
    Py_buffer view;
    if (float64_buffer(out, n * m, &view) < 0) return NULL;
    Py_ssize_t held = 0, held_right = 0;
    int narrow_only = 1;
    text *texts = NULL;
    table *pm = NULL;
    uint32_t *wide_text = NULL;
    Py_ssize_t *wide_at = NULL;
    PyObject *result = NULL;
    texts = PyMem_RawMalloc(sizeof(text) * (size_t)(n + m ? n + m : 1));
    pm = calloc(1, sizeof(table));
    if (!texts || !pm) {
        PyErr_NoMemory();
        goto done;
    }
    if (collect(left, texts, &held, &narrow_only) < 0 ||
        collect(right, texts + n, &held_right, &narrow_only) < 0)
        goto done;
    if (!narrow_only) {
        wide_at = PyMem_RawMalloc(sizeof(Py_ssize_t) * (size_t)(n + m ? n + m : 1));
        wide_text = wide_at ? widened_all(texts, n + m, wide_at) : NULL;
        if (!wide_text) {
            PyErr_NoMemory();
            goto done;
        }
    }
    double *cells = view.buf;
    Py_ssize_t skipped = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++)
        skipped += matrix_row(pm, &texts[i], texts + n, m, wide_text, wide_at ? wide_at + n : NULL,
                              wide_at ? wide_at[i] : 0, cells + i * m);
    Py_END_ALLOW_THREADS
    result = PyLong_FromSsize_t(skipped);
done:
    release(texts, held);
    if (texts) release(texts + n, held_right);
    PyMem_RawFree(wide_text);
    PyMem_RawFree(wide_at);
    free(pm);
    PyMem_RawFree(texts);
    PyBuffer_Release(&view);
    return result;
}

/* UTF-8 text, as Arrow's large_string keeps it: string i is data[offsets[i] ..
   offsets[i + 1]) */
typedef struct {
    const int64_t *offsets;
    Py_ssize_t count; /* strings: offsets holds count + 1 */
    const uint8_t *data;
    Py_ssize_t bytes;
} utf8_column;

/* the code points of data[0 .. len) into `into` (room for `room`); how many, or -1 past
   `room`. Polars holds valid UTF-8; a malformed sequence is read as the bytes it has and
   never past the end */
static Py_ssize_t decoded(const uint8_t *data, Py_ssize_t len, uint32_t *into, Py_ssize_t room) {
    Py_ssize_t n = 0;
    for (Py_ssize_t i = 0; i < len; n++) {
        if (n == room) return -1;
        uint8_t b = data[i];
        int more = b < 0x80 ? 0 : b < 0xE0 ? 1 : b < 0xF0 ? 2 : 3;
        uint32_t c = more == 0 ? b : more == 1 ? b & 0x1F : more == 2 ? b & 0x0F : b & 0x07;
        for (i++; more && i < len; more--, i++) c = (c << 6) | (data[i] & 0x3F);
        into[n] = c;
    }
    return n;
}

HOT int ascii(const uint8_t *data, Py_ssize_t len) {
    uint8_t any = 0;
    for (Py_ssize_t i = 0; i < len; i++) any |= data[i];
    return any < 0x80;
}

/* the score of one pair of UTF-8 strings, as `score` gives it for the same text as str */
static double score_utf8(table *pm, const uint8_t *p, Py_ssize_t pbytes, const uint8_t *t,
                         Py_ssize_t tbytes) {
    if (ascii(p, pbytes) && ascii(t, tbytes)) {
        if (pbytes > MAX_LEFT || tbytes > MAX_RIGHT) return -1.0;
        if (pbytes == 0 || tbytes == 0) return pbytes == tbytes ? 1.0 : 0.0;
        narrow_set(pm, p, pbytes);
        double found = narrow(pm, p, pbytes, t, tbytes);
        narrow_unset(pm, p, pbytes);
        return found;
    }
    Py_ssize_t plen = decoded(p, pbytes, pm->left, MAX_LEFT);
    Py_ssize_t tlen = decoded(t, tbytes, pm->right, MAX_RIGHT);
    if (plen < 0 || tlen < 0) return -1.0;
    if (plen == 0 || tlen == 0) return plen == tlen ? 1.0 : 0.0;
    wide_set(pm, pm->left, plen);
    double found = wide(pm, pm->left, plen, pm->right, tlen);
    wide_unset(pm, pm->left, plen);
    return found;
}

/* `o` as a C-contiguous buffer of `itemsize`-byte items of format `code` (any format for
   code 0); TypeError (and nothing held) if not */
static int typed_buffer(PyObject *o, const char *name, char code, Py_ssize_t itemsize,
                        Py_buffer *view) {
    if (PyObject_GetBuffer(o, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) return -1;
    if (!code) return 0;
    const char *format = view->format ? view->format : "B";
    if (format[0] == '@' || format[0] == '=' || format[0] == '<') format++;
    /* int64 is 'l' or 'q' by platform */
    int same = format[0] == code || (code == 'l' && format[0] == 'q');
    if (view->itemsize != itemsize || !same || format[1] != '\0') {
        PyBuffer_Release(view);
        PyErr_Format(PyExc_TypeError, "%s: a buffer of %c items of %zd bytes expected", name,
                     code, itemsize);
        return -1;
    }
    return 0;
}

/* string i of `c` as [*start, *start + *len), or 0 where its offsets are out of order
   or past the data (checked pair by pair: no byte outside the buffers is read) */
HOT int string_at(const utf8_column *c, int64_t i, const uint8_t **start, Py_ssize_t *len) {
    if (i < 0 || i >= c->count) return 0;
    int64_t from = c->offsets[i], to = c->offsets[i + 1];
    if (from < 0 || to < from || to > c->bytes) return 0;
    *start = c->data + from;
    *len = (Py_ssize_t)(to - from);
    return 1;
}

static PyObject *pairs_at(PyObject *self, PyObject *args) {
    PyObject *objects[7];
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOOOOO", &objects[0], &objects[1], &objects[2], &objects[3],
                          &objects[4], &objects[5], &objects[6]))
        return NULL;
    static const char *names[6] = {"left offsets", "left data", "left positions",
                                   "right offsets", "right data", "right positions"};
    Py_buffer views[6], out;
    int held = 0;
    PyObject *result = NULL;
    table *pm = NULL;
    for (; held < 6; held++) {
        int data = held % 3 == 1;
        if (typed_buffer(objects[held], names[held], data ? 0 : 'l', data ? 1 : 8,
                         &views[held]) < 0)
            goto done;
    }
    Py_ssize_t n = views[2].len / 8;
    if (views[5].len / 8 != n) {
        PyErr_SetString(PyExc_ValueError, "left and right positions differ in length");
        goto done;
    }
    if (float64_buffer(objects[6], n, &out) < 0) goto done;
    utf8_column columns[2];
    for (int side = 0; side < 2; side++) {
        Py_buffer *v = &views[3 * side];
        columns[side] = (utf8_column){v[0].buf, v[0].len / 8 - 1, v[1].buf, v[1].len};
        if (columns[side].count < 0) {
            PyErr_Format(PyExc_ValueError, "%s: at least one offset expected", names[3 * side]);
            goto released;
        }
    }
    pm = calloc(1, sizeof(table));
    if (!pm) {
        PyErr_NoMemory();
        goto released;
    }
    const int64_t *lpos = views[2].buf, *rpos = views[5].buf;
    double *scores = out.buf;
    Py_ssize_t skipped = 0;
    int bad = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        const uint8_t *p, *t;
        Py_ssize_t plen, tlen;
        if (!string_at(&columns[0], lpos[i], &p, &plen) ||
            !string_at(&columns[1], rpos[i], &t, &tlen)) {
            bad = 1;
            break;
        }
        scores[i] = score_utf8(pm, p, plen, t, tlen);
        skipped += scores[i] < 0.0;
    }
    Py_END_ALLOW_THREADS
    if (bad)
        PyErr_SetString(PyExc_ValueError,
                        "a position past its strings, or offsets out of order or past the data");
    else
        result = PyLong_FromSsize_t(skipped);
released:
    PyBuffer_Release(&out);
done:
    for (int i = 0; i < held; i++) PyBuffer_Release(&views[i]);
    free(pm);
    return result;
}

static PyMethodDef methods[] = {
    {"pairs", pairs, METH_VARARGS,
     "pairs(left, right, out) -> int: Jaro-Winkler of each (left[i], right[i]) into out[i]"},
    {"matrix", matrix, METH_VARARGS,
     "matrix(left, right, out) -> int: Jaro-Winkler of each (left[i], right[j]) into "
     "out[i * len(right) + j]"},
    {"pairs_at", pairs_at, METH_VARARGS,
     "pairs_at(left_offsets, left_data, left_positions, right_offsets, right_data, "
     "right_positions, out) -> int: Jaro-Winkler of UTF-8 strings by position"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    .m_base = PyModuleDef_HEAD_INIT,
    .m_name = "_jaro",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__jaro(void) { return PyModule_Create(&module); }

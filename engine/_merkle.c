/*
 * The Merkle tree of a job's decisions (engine/decision_proofs.py), hashed with the GIL
 * released.
 *
 * The tree is engine.commitment's, byte for byte: a leaf is SHA-256(0x00 || row), an
 * inner node SHA-256(0x01 || left || right), an odd node is carried up unpaired
 * (tests/unit/test_merkle_native.py compares the two). In Python each of the two million
 * hashes of a million decisions is a call holding the GIL, about 0.9 s of CPU; here they
 * are OpenSSL's SHA-256 over one buffer, about a quarter of that.
 *
 * leaves(data, offsets) -> bytes: the leaf of each row, row i being
 *     data[offsets[i]:offsets[i + 1]] (offsets: n + 1 int64, ascending, within data;
 *     an Arrow large string array's buffers as they are),
 *     32 bytes a leaf, in order.
 * root(leaves) -> bytes: the root over leaves of 32 bytes each, at least one.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <string.h>

#define HASH 32

/* SHA-256 through one context and one fetched digest for every message of a call: the
   one-shot SHA256() looks the algorithm up again for each message, which took three
   times the hashing itself on rows of 170 bytes */
typedef struct {
    EVP_MD *md;
    EVP_MD_CTX *ctx;
} hasher;

static int hasher_open(hasher *h) {
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    h->md = EVP_MD_fetch(NULL, "SHA256", NULL);
#else
    h->md = (EVP_MD *)EVP_sha256();
#endif
    h->ctx = EVP_MD_CTX_new();
    return h->md && h->ctx;
}

static void hasher_close(hasher *h) {
    EVP_MD_CTX_free(h->ctx);
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    EVP_MD_free(h->md);
#endif
}

/* 1 on success */
static inline int sha256(hasher *h, const unsigned char *message, size_t length,
                         unsigned char *digest) {
    unsigned int written = 0;
    return EVP_DigestInit_ex(h->ctx, h->md, NULL) &&
           EVP_DigestUpdate(h->ctx, message, length) &&
           EVP_DigestFinal_ex(h->ctx, digest, &written) && written == HASH;
}

static PyObject *leaves(PyObject *self, PyObject *args) {
    Py_buffer data, offsets;
    (void)self;
    PyObject *given_data, *given_offsets;
    if (!PyArg_ParseTuple(args, "OO", &given_data, &given_offsets)) return NULL;
    if (PyObject_GetBuffer(given_data, &data, PyBUF_C_CONTIGUOUS) < 0) return NULL;
    if (PyObject_GetBuffer(given_offsets, &offsets, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
        PyBuffer_Release(&data);
        return NULL;
    }
    PyObject *out = NULL;
    unsigned char *scratch = NULL;
    const char *format = offsets.format ? offsets.format : "B";
    if (format[0] == '@' || format[0] == '=' || format[0] == '<') format++;
    int int64 = !strcmp(format, "q") || !strcmp(format, "l");
    if (offsets.itemsize != (Py_ssize_t)sizeof(int64_t) || !int64) {
        PyErr_SetString(PyExc_TypeError, "offsets: an int64 buffer expected");
        goto done;
    }
    if (offsets.len < (Py_ssize_t)sizeof(int64_t)) {
        PyErr_SetString(PyExc_ValueError, "offsets: n + 1 int64 expected");
        goto done;
    }
    Py_ssize_t n = offsets.len / (Py_ssize_t)sizeof(int64_t) - 1;
    const int64_t *at = offsets.buf;
    int64_t longest = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (at[i] < 0 || at[i + 1] < at[i] || at[i + 1] > data.len) {
            PyErr_SetString(PyExc_ValueError, "offsets: not ascending within data");
            goto done;
        }
        if (at[i + 1] - at[i] > longest) longest = at[i + 1] - at[i];
    }
    out = PyBytes_FromStringAndSize(NULL, n * HASH);
    scratch = PyMem_RawMalloc((size_t)longest + 1);
    if (!out || !scratch) {
        Py_CLEAR(out);
        if (scratch == NULL) PyErr_NoMemory();
        goto done;
    }
    unsigned char *hashes = (unsigned char *)PyBytes_AS_STRING(out);
    const unsigned char *bytes = data.buf;
    hasher h = {NULL, NULL};
    int ok = hasher_open(&h) ? 1 : -1; /* 0: offsets changed; -1: OpenSSL failed */
    Py_BEGIN_ALLOW_THREADS
    scratch[0] = 0x00;
    for (Py_ssize_t i = 0; ok == 1 && i < n; i++) {
        /* read once and checked again: the offsets were checked with the GIL held, and
           a writable array could be changed by another thread since */
        int64_t start = at[i], end = at[i + 1];
        if (start < 0 || start > end || end > data.len || end - start > longest) {
            ok = 0;
            break;
        }
        memcpy(scratch + 1, bytes + start, (size_t)(end - start));
        ok = sha256(&h, scratch, (size_t)(end - start) + 1, hashes + i * HASH) ? 1 : -1;
    }
    Py_END_ALLOW_THREADS
    hasher_close(&h);
    if (ok != 1) {
        Py_CLEAR(out);
        if (ok == 0) PyErr_SetString(PyExc_ValueError, "offsets: changed while hashing");
        else PyErr_SetString(PyExc_RuntimeError, "OpenSSL's SHA-256 failed");
    }
done:
    PyMem_RawFree(scratch);
    PyBuffer_Release(&data);
    PyBuffer_Release(&offsets);
    return out;
}

static PyObject *root(PyObject *self, PyObject *args) {
    Py_buffer given;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*", &given)) return NULL;
    if (given.len == 0 || given.len % HASH) {
        PyBuffer_Release(&given);
        PyErr_SetString(PyExc_ValueError, "leaves: one or more 32-byte hashes expected");
        return NULL;
    }
    Py_ssize_t level = given.len / HASH;
    unsigned char *tree = PyMem_RawMalloc((size_t)given.len);
    if (!tree) {
        PyBuffer_Release(&given);
        return PyErr_NoMemory();
    }
    memcpy(tree, given.buf, (size_t)given.len);
    PyBuffer_Release(&given);
    hasher h = {NULL, NULL};
    int ok = hasher_open(&h);
    Py_BEGIN_ALLOW_THREADS
    unsigned char node[1 + 2 * HASH];
    node[0] = 0x01;
    /* a level is hashed over itself: node j is written after nodes 2j and 2j + 1, its
       inputs, are read, and j <= 2j */
    while (ok && level > 1) {
        Py_ssize_t pairs = level / 2;
        for (Py_ssize_t j = 0; ok && j < pairs; j++) {
            memcpy(node + 1, tree + 2 * j * HASH, 2 * HASH);
            ok = sha256(&h, node, sizeof node, tree + j * HASH);
        }
        if (level % 2) memmove(tree + pairs * HASH, tree + (level - 1) * HASH, HASH);
        level = pairs + level % 2;
    }
    Py_END_ALLOW_THREADS
    hasher_close(&h);
    PyObject *out = ok ? PyBytes_FromStringAndSize((const char *)tree, HASH) : NULL;
    if (!ok) PyErr_SetString(PyExc_RuntimeError, "OpenSSL's SHA-256 failed");
    PyMem_RawFree(tree);
    return out;
}

static PyMethodDef methods[] = {
    {"leaves", leaves, METH_VARARGS, "leaves(data, offsets) -> bytes: each row's leaf hash"},
    {"root", root, METH_VARARGS, "root(leaves) -> bytes: the Merkle root over leaf hashes"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    .m_base = PyModuleDef_HEAD_INIT,
    .m_name = "_merkle",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__merkle(void) { return PyModule_Create(&module); }

/* Where given words stand in a page's word table, in one pass in C; and whether
 * a body holds any of given bytes (holds_any).
 *
 * The compiled half of paywall.engine.scan (read its docstring first): the
 * pure-Python word_hits there is the reference, and the tests hold the two to
 * the same answers. A word is a run of bytes other than ASCII whitespace, as
 * bytes.split() reads them; each is looked up, without making an object for it,
 * in a hash table of the words asked for, made once per call. The table is
 * read without the GIL (it is immutable, and every word is held by the call).
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    uint64_t hash;
    const char *bytes;
    Py_ssize_t size;
    PyObject *word; /* a reference of the call's own */
} Slot;

typedef struct {
    Py_ssize_t at;
    Py_ssize_t slot;
} Hit;

static uint64_t
fnv1a(const unsigned char *data, Py_ssize_t size)
{
    uint64_t hash = 14695981039346656037ULL;
    for (Py_ssize_t i = 0; i < size; i++) {
        hash ^= data[i];
        hash *= 1099511628211ULL;
    }
    return hash;
}

static int
is_space(unsigned char c)
{
    /* bytes.split() with no separator: the ASCII whitespace of Py_ISSPACE */
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\x0b' || c == '\x0c';
}

typedef struct {
    Py_ssize_t start;
    Py_ssize_t end;
} Range;

typedef struct {
    const Slot *slots;
    Py_ssize_t capacity, shortest, longest_word;
    Hit *hits;
    Py_ssize_t found, room, longest;
} Scan;

/* The words of data[from:to], the range's edges ending words; 0, or -1 when out of memory (no GIL held). */
static int
scan_range(Scan *scan, const unsigned char *data, Py_ssize_t from, Py_ssize_t to)
{
    const Slot *slots = scan->slots;
    Py_ssize_t mask = scan->capacity - 1;
    Py_ssize_t i = from;
    while (i < to) {
        while (i < to && is_space(data[i])) {
            i++;
        }
        Py_ssize_t start = i;
        while (i < to && !is_space(data[i])) {
            i++;
        }
        Py_ssize_t length = i - start;
        if (length > scan->longest) {
            scan->longest = length;
        }
        if (length < scan->shortest || length > scan->longest_word) {
            continue;
        }
        uint64_t hash = fnv1a(data + start, length);
        Py_ssize_t index = (Py_ssize_t)(hash & (uint64_t)mask);
        while (slots[index].word != NULL) {
            const Slot *slot = &slots[index];
            if (slot->hash == hash && slot->size == length && memcmp(slot->bytes, data + start, (size_t)length) == 0) {
                if (scan->found == scan->room) {
                    if (scan->room > PY_SSIZE_T_MAX / 2 / (Py_ssize_t)sizeof(Hit)) {
                        return -1;
                    }
                    /* PyMem_RawRealloc: no GIL is held here */
                    Hit *grown = PyMem_RawRealloc(scan->hits, (size_t)(2 * scan->room) * sizeof(Hit));
                    if (grown == NULL) {
                        return -1;
                    }
                    scan->hits = grown;
                    scan->room *= 2;
                }
                scan->hits[scan->found++] = (Hit){start, index};
                break;
            }
            index = (index + 1) & mask;
        }
    }
    return 0;
}

static void
release(Slot *slots, Py_ssize_t capacity)
{
    for (Py_ssize_t i = 0; i < capacity; i++) {
        Py_XDECREF(slots[i].word);
    }
    PyMem_Free(slots);
}

/* The (start, end) pairs of a sequence, each within a table of ``size`` bytes; NULL with an exception set. */
static Range *
read_ranges(PyObject *sequence, Py_ssize_t size, Py_ssize_t *count)
{
    PyObject *fast = PySequence_Fast(sequence, "ranges must be a sequence of (start, end) pairs");
    if (fast == NULL) {
        return NULL;
    }
    Py_ssize_t length = PySequence_Fast_GET_SIZE(fast);
    Range *ranges = PyMem_Malloc((size_t)(length > 0 ? length : 1) * sizeof(Range));
    if (ranges == NULL) {
        Py_DECREF(fast);
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t r = 0; r < length; r++) {
        Py_ssize_t start, end;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(fast, r), "nn", &start, &end)) {
            goto fail;
        }
        if (start < 0 || start > end || end > size) {
            PyErr_SetString(PyExc_ValueError, "a range must stand within the table");
            goto fail;
        }
        ranges[r] = (Range){start, end};
    }
    Py_DECREF(fast);
    *count = length;
    return ranges;
fail:
    Py_DECREF(fast);
    PyMem_Free(ranges);
    return NULL;
}

PyDoc_STRVAR(word_hits_doc,
"word_hits(table, words, ranges, /)\n--\n\n"
"Every place in the ``ranges`` (start, end) of the bytes ``table`` where one of\n"
"``words`` (a set or frozenset of bytes) stands as a whole word, as\n"
"``(offset, word)`` in the order of the ranges, the word being the set's own\n"
"object; and the length of the longest word read. A range's edges end words.");

static PyObject *
word_hits(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "word_hits() takes exactly 3 arguments");
        return NULL;
    }
    PyObject *table = args[0], *words = args[1];
    if (!PyBytes_Check(table)) {
        PyErr_SetString(PyExc_TypeError, "table must be bytes");
        return NULL;
    }
    if (!PyAnySet_Check(words)) {
        PyErr_SetString(PyExc_TypeError, "words must be a set or a frozenset");
        return NULL;
    }
    Py_ssize_t range_count = 0;
    Range *ranges = read_ranges(args[2], PyBytes_GET_SIZE(table), &range_count);
    if (ranges == NULL) {
        return NULL;
    }
    Py_ssize_t count = PySet_Size(words);
    Py_ssize_t capacity = 16;
    while (capacity < 2 * count) {
        capacity *= 2;
    }
    Slot *slots = PyMem_Calloc((size_t)capacity, sizeof(Slot));
    if (slots == NULL) {
        PyMem_Free(ranges);
        return PyErr_NoMemory();
    }
    Py_ssize_t shortest = PY_SSIZE_T_MAX, longest_word = 0;
    PyObject *iterator = PyObject_GetIter(words), *word;
    if (iterator == NULL) {
        PyMem_Free(ranges);
        PyMem_Free(slots);
        return NULL;
    }
    int bad = 0;
    Py_ssize_t inserted = 0;
    while ((word = PyIter_Next(iterator)) != NULL) {
        if (inserted >= capacity / 2) { /* more than the set's size said: never leave the table full */
            Py_DECREF(word);
            PyErr_SetString(PyExc_RuntimeError, "the set changed size during the scan");
            bad = 1;
            break;
        }
        if (!PyBytes_Check(word)) {
            Py_DECREF(word);
            PyErr_SetString(PyExc_TypeError, "words must hold bytes only");
            bad = 1;
            break;
        }
        const char *bytes = PyBytes_AS_STRING(word);
        Py_ssize_t size = PyBytes_GET_SIZE(word);
        if (size == 0) {
            Py_DECREF(word); /* no word of a table is empty */
            continue;
        }
        uint64_t hash = fnv1a((const unsigned char *)bytes, size);
        Py_ssize_t index = (Py_ssize_t)(hash & (uint64_t)(capacity - 1));
        while (slots[index].word != NULL) {
            index = (index + 1) & (capacity - 1);
        }
        slots[index] = (Slot){hash, bytes, size, word};
        inserted++;
        if (size < shortest) {
            shortest = size;
        }
        if (size > longest_word) {
            longest_word = size;
        }
    }
    Py_DECREF(iterator);
    if (bad || PyErr_Occurred()) {
        PyMem_Free(ranges);
        release(slots, capacity);
        return NULL;
    }

    const unsigned char *data = (const unsigned char *)PyBytes_AS_STRING(table);
    Scan scan = {slots, capacity, shortest, longest_word, NULL, 0, 64, 0};
    scan.hits = PyMem_RawMalloc((size_t)scan.room * sizeof(Hit));
    if (scan.hits == NULL) {
        PyMem_Free(ranges);
        release(slots, capacity);
        return PyErr_NoMemory();
    }
    int failed = 0;
    Py_BEGIN_ALLOW_THREADS /* the table is immutable and held by the caller; the slots are ours */
    for (Py_ssize_t r = 0; r < range_count && !failed; r++) {
        failed = scan_range(&scan, data, ranges[r].start, ranges[r].end) != 0;
    }
    Py_END_ALLOW_THREADS
    PyMem_Free(ranges);
    Hit *hits = scan.hits;
    Py_ssize_t found = scan.found, longest = scan.longest;

    PyObject *result = NULL, *list = NULL;
    if (failed) {
        PyErr_NoMemory();
        goto done;
    }
    list = PyList_New(found);
    if (list == NULL) {
        goto done;
    }
    for (Py_ssize_t h = 0; h < found; h++) {
        PyObject *item = Py_BuildValue("(nO)", hits[h].at, slots[hits[h].slot].word);
        if (item == NULL) {
            goto done;
        }
        PyList_SET_ITEM(list, h, item);
    }
    result = Py_BuildValue("(On)", list, longest);
done:
    Py_XDECREF(list);
    PyMem_RawFree(hits);
    release(slots, capacity);
    return result;
}

PyDoc_STRVAR(holds_any_doc,
"holds_any(data, wanted, /)\n--\n\n"
"Whether the bytes ``data`` hold any of the bytes of ``wanted``.");

static PyObject *
holds_any(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "holds_any() takes exactly 2 arguments");
        return NULL;
    }
    if (!PyBytes_Check(args[0]) || !PyBytes_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "data and wanted must be bytes");
        return NULL;
    }
    unsigned char table[256] = {0};
    const unsigned char *wanted = (const unsigned char *)PyBytes_AS_STRING(args[1]);
    for (Py_ssize_t i = 0; i < PyBytes_GET_SIZE(args[1]); i++) {
        table[wanted[i]] = 1;
    }
    /* Whether every byte wanted is a C0 control or DEL (the decoder's question). */
    int controls = 1;
    for (int c = 0x20; c < 0x7f; c++) {
        controls &= !table[c];
    }
    for (int c = 0x80; c < 256; c++) {
        controls &= !table[c];
    }
    const unsigned char *data = (const unsigned char *)PyBytes_AS_STRING(args[0]);
    Py_ssize_t size = PyBytes_GET_SIZE(args[0]);
    unsigned char found = 0;
    Py_ssize_t done = 0;
    Py_BEGIN_ALLOW_THREADS /* data is immutable and held by the caller */
    if (controls) {
        /* Eight bytes at a time: whether any is below 0x20 or is DEL is told without a lookup per byte (the
         * tests of "any byte below n" and "any byte zero" on a word are exact for the word as a whole). Text
         * holds few such bytes but its line breaks; only the words that hold one are looked up byte by byte. */
        const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
        for (; done + 8 <= size && !found; done += 8) {
            uint64_t word;
            memcpy(&word, data + done, 8);
            uint64_t del = word ^ (0x7f * ones);
            if ((((word - 0x20 * ones) & ~word) | ((del - ones) & ~del)) & highs) {
                for (Py_ssize_t i = done; i < done + 8; i++) {
                    found |= table[data[i]];
                }
            }
        }
    }
    /* A block at a time, without a branch per byte: most pages hold none of them, read to the end. */
    for (Py_ssize_t start = done; start < size && !found; start += 4096) {
        Py_ssize_t end = start + 4096 < size ? start + 4096 : size;
        for (Py_ssize_t i = start; i < end; i++) {
            found |= table[data[i]];
        }
    }
    Py_END_ALLOW_THREADS
    return PyBool_FromLong(found);
}

PyDoc_STRVAR(word_table_doc,
"word_table(data, /)\n--\n\n"
"The bytes ``data`` as lower-case words separated by spaces, byte for byte:\n"
"ASCII letters lower-cased, ASCII digits, ``_`` and every byte of 0x80 and above\n"
"kept, every other byte a space (``data.translate(WORD_TABLE)``).");

static inline unsigned char
word_byte(unsigned char c)
{
    unsigned char upper = (unsigned char)(c - 'A') < 26;
    unsigned char keep = upper | ((unsigned char)(c - 'a') < 26) | ((unsigned char)(c - '0') < 10) | (c == '_') |
                         (c >= 0x80);
    return keep ? (unsigned char)(c + (upper << 5)) : (unsigned char)' ';
}

#if defined(__GNUC__)
/* Sixteen bytes at a time in the compiler's vector types (SSE2 on x86-64, NEON on ARM), as word_byte() reads
 * each: through a table, a byte costs about seven instructions; here a block of sixteen costs about twenty. */
#define WORD_BLOCK 16
typedef unsigned char Bytes16 __attribute__((vector_size(16)));

static inline void
word_block(const unsigned char *in, unsigned char *out)
{
    Bytes16 c;
    memcpy(&c, in, sizeof c);
    Bytes16 upper = (Bytes16)((Bytes16)(c - 'A') < 26);
    Bytes16 keep = upper | (Bytes16)((Bytes16)(c - 'a') < 26) | (Bytes16)((Bytes16)(c - '0') < 10) |
                   (Bytes16)(c == '_') | (Bytes16)(c >= 0x80);
    Bytes16 result = ((c + (upper & 0x20)) & keep) | (~keep & ' ');
    memcpy(out, &result, sizeof result);
}
#endif

static PyObject *
word_table(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 1) {
        PyErr_SetString(PyExc_TypeError, "word_table() takes exactly 1 argument");
        return NULL;
    }
    if (!PyBytes_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "data must be bytes");
        return NULL;
    }
    Py_ssize_t size = PyBytes_GET_SIZE(args[0]);
    PyObject *result = PyBytes_FromStringAndSize(NULL, size);
    if (result == NULL) {
        return NULL;
    }
    const unsigned char *in = (const unsigned char *)PyBytes_AS_STRING(args[0]);
    unsigned char *out = (unsigned char *)PyBytes_AS_STRING(result);
    Py_ssize_t i = 0;
    Py_BEGIN_ALLOW_THREADS /* data is immutable and held by the caller; the result is the call's own */
#ifdef WORD_BLOCK
    for (; i + WORD_BLOCK <= size; i += WORD_BLOCK) {
        word_block(in + i, out + i);
    }
    for (; i < size; i++) {
        out[i] = word_byte(in[i]);
    }
#else
    /* Without vector types, through a table, as bytes.translate reads (faster than word_byte's tests). */
    unsigned char table[256];
    for (int c = 0; c < 256; c++) {
        table[c] = word_byte((unsigned char)c);
    }
    for (; i < size; i++) {
        out[i] = table[in[i]];
    }
#endif
    Py_END_ALLOW_THREADS
    return result;
}

static PyMethodDef methods[] = {
    {"word_hits", (PyCFunction)(void (*)(void))word_hits, METH_FASTCALL, word_hits_doc},
    {"holds_any", (PyCFunction)(void (*)(void))holds_any, METH_FASTCALL, holds_any_doc},
    {"word_table", (PyCFunction)(void (*)(void))word_table, METH_FASTCALL, word_table_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_scan",
    .m_doc = "The engine's scans of bytes in C (see paywall.engine.scan).",
    .m_size = 0,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__scan(void)
{
    return PyModule_Create(&module);
}

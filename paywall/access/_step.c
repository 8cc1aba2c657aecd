/* A coroutine's first step, told apart from its end without an exception.
 *
 * The compiled half of paywall.access.eager (read its docstring first). Python's
 * coro.send() reports a coroutine that returns by raising StopIteration, and
 * catching it (the exception, its traceback) is most of what running a member
 * resolver that never waits costs. PyIter_Send says the same with a flag.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

PyDoc_STRVAR(first_step_doc,
"first_step(coro, /)\n--\n\n"
"Run a coroutine until it first waits or returns: (True, what it returned) or\n"
"(False, what it waits on). What it raises is raised.");

static PyObject *
first_step(PyObject *module, PyObject *coro)
{
    PyObject *value = NULL;
    PySendResult sent = PyIter_Send(coro, Py_None, &value);
    if (sent == PYGEN_ERROR) {
        return NULL;
    }
    PyObject *answer = PyTuple_Pack(2, sent == PYGEN_RETURN ? Py_True : Py_False, value);
    Py_DECREF(value);
    return answer;
}

static PyMethodDef methods[] = {
    {"first_step", (PyCFunction)first_step, METH_O, first_step_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_step",
    .m_doc = "A coroutine's first step in C (see paywall.access.eager).",
    .m_size = 0,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__step(void)
{
    return PyModule_Create(&module);
}

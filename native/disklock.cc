// disklock.cc — open-file-description byte-range locks (fcntl F_OFD_SETLK / F_OFD_GETLK) for host/cli/disk-lock.ts.
// Node's fs has no fcntl; QEMU locks raw images this way, so wasmvisor and QEMU see each other's locks.
// Built by scripts/build-disklock.mjs into build/native/disklock.node; optional (the CLI warns without it).
#include <napi.h>
#include <fcntl.h>
#include <errno.h>
#include <string.h>

// setLock(fd, start, len, type): type 0 = unlock, 1 = shared (read), 2 = exclusive (write); returns 0 or an errno.
static Napi::Value SetLock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4) { Napi::TypeError::New(env, "setLock(fd, start, len, type)").ThrowAsJavaScriptException(); return env.Null(); }
  int fd = info[0].As<Napi::Number>().Int32Value();
  int type = info[3].As<Napi::Number>().Int32Value();
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = type == 0 ? F_UNLCK : type == 1 ? F_RDLCK : F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = (off_t)info[1].As<Napi::Number>().Int64Value();
  fl.l_len = (off_t)info[2].As<Napi::Number>().Int64Value();
  int r = fcntl(fd, F_OFD_SETLK, &fl);
  return Napi::Number::New(env, r == -1 ? errno : 0);
}

// testLock(fd, start, len, type): 0 if the lock could be taken now, -1 if another holder conflicts, else an errno.
static Napi::Value TestLock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4) { Napi::TypeError::New(env, "testLock(fd, start, len, type)").ThrowAsJavaScriptException(); return env.Null(); }
  int fd = info[0].As<Napi::Number>().Int32Value();
  int type = info[3].As<Napi::Number>().Int32Value();
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = type == 1 ? F_RDLCK : F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = (off_t)info[1].As<Napi::Number>().Int64Value();
  fl.l_len = (off_t)info[2].As<Napi::Number>().Int64Value();
  if (fcntl(fd, F_OFD_GETLK, &fl) == -1) return Napi::Number::New(env, errno);
  return Napi::Number::New(env, fl.l_type == F_UNLCK ? 0 : -1);
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("setLock", Napi::Function::New(env, SetLock));
  exports.Set("testLock", Napi::Function::New(env, TestLock));
  return exports;
}

NODE_API_MODULE(disklock, Init)

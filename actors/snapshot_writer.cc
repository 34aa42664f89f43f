#include "actors/snapshot_writer.h"

#include <spdlog/spdlog.h>

#include <map>
#include <memory>

#include "storage/data_dir.h"
#include "storage/snapshot.h"

namespace dbkv {
namespace {

using storage::JoinPath;

struct WriterState {
  static inline const char* name = "dbkv.snapshot-writer";
  storage::Env* env = nullptr;
  std::string dir;
  std::map<uint32_t, std::unique_ptr<storage::WritableFile>> files;
};

snapshot_writer_actor::behavior_type WriterBehavior(
    snapshot_writer_actor::stateful_pointer<WriterState> self, storage::Env* env, std::string dir) {
  self->state.env = env;
  self->state.dir = std::move(dir);
  return {
      [self](snapbegin_atom, uint32_t shard, const std::string& header) -> caf::result<bool> {
        WriterState& st = self->state;
        std::unique_ptr<storage::WritableFile> f;
        Status s = st.env->NewWritableFile(JoinPath(st.dir, storage::SnapshotTempName(shard)), &f);
        if (s.ok()) s = f->Append(header);
        if (!s.ok()) {
          spdlog::error("snapshot: shard {}: {}", shard, s.ToString());
          return false;
        }
        st.files[shard] = std::move(f);
        return true;
      },
      [self](snapblock_atom, uint32_t shard, const std::string& block) -> caf::result<bool> {
        WriterState& st = self->state;
        auto it = st.files.find(shard);
        if (it == st.files.end()) return false;
        Status s = it->second->Append(block);
        if (!s.ok()) {
          spdlog::error("snapshot: shard {}: {}", shard, s.ToString());
          st.files.erase(it);
          return false;
        }
        return true;
      },
      [self](snapend_atom, uint32_t shard, const std::string& footer,
             uint64_t lsn) -> caf::result<bool> {
        WriterState& st = self->state;
        auto it = st.files.find(shard);
        if (it == st.files.end()) return false;
        std::unique_ptr<storage::WritableFile> f = std::move(it->second);
        st.files.erase(it);
        // Whole, synced, then renamed: a snapshot file that exists is complete.
        Status s = f->Append(footer);
        if (s.ok()) s = f->Sync();
        if (s.ok()) s = f->Close();
        const std::string final_path = JoinPath(st.dir, storage::SnapshotFileName(shard, lsn));
        if (s.ok()) {
          s = st.env->RenameFile(JoinPath(st.dir, storage::SnapshotTempName(shard)), final_path);
        }
        if (s.ok()) s = st.env->SyncDir(st.dir);
        if (!s.ok()) {
          spdlog::error("snapshot: shard {}: {}", shard, s.ToString());
          return false;
        }
        return true;
      },
  };
}

}  // namespace

snapshot_writer_actor SpawnSnapshotWriter(caf::actor_system& system, storage::Env* env,
                                          std::string dir) {
  return system.spawn<caf::detached>(WriterBehavior, env, std::move(dir));
}

}  // namespace dbkv

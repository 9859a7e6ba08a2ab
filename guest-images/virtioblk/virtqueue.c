/*
 * virtqueue.c - the driver side of a split virtqueue (virtio 1.2 §2.7): ring layout, descriptors,
 * the available ring with its notification suppression (§2.7.10), the used ring.
 */
#include "virtio.h"

static inline void barrier(void) { __asm__ volatile("" ::: "memory"); }

void vq_layout(struct virtq *q, void *mem, uint16_t size, int legacy)
{
    uint8_t *m = mem;
    for (uint32_t i = 0; i < (uint32_t)VQ_MEM_BYTES(size); i++)
        m[i] = 0;
    uint32_t desc = ((uint32_t)m + VIRTIO_LEGACY_ALIGN - 1) & ~(uint32_t)(VIRTIO_LEGACY_ALIGN - 1);
    uint32_t avail = desc + 16u * size;
    uint32_t used = avail + 6u + 2u * size;
    used = legacy ? (used + VIRTIO_LEGACY_ALIGN - 1) & ~(uint32_t)(VIRTIO_LEGACY_ALIGN - 1) : (used + 3) & ~3u;
    q->size = size;
    q->desc = (volatile struct virtq_desc *)desc;
    q->avail = (volatile uint16_t *)avail;
    q->used = (volatile uint16_t *)used;
    q->elem = (volatile struct virtq_used_elem *)(used + 4);
    q->avail_idx = 0;
    q->last_used = 0;
    q->event_idx = 0;
}

void vq_desc(struct virtq *q, uint16_t i, uint32_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
    volatile struct virtq_desc *d = &q->desc[i];
    d->addr = addr;
    d->len = len;
    d->flags = flags;
    d->next = next;
}

void vq_add(struct virtq *q, uint16_t head)
{
    q->avail[2 + (q->avail_idx & (q->size - 1))] = head;
    q->avail_idx++;
}

/* §2.7.10: with EVENT_IDX the device asks for a kick once avail.idx passes avail_event
 * (vring_need_event); without it, used.flags NO_NOTIFY says it needs none. */
int vq_publish(struct virtq *q, uint16_t old_idx)
{
    barrier(); /* descriptors and ring entries before the index (§2.7.13.3) */
    VQ_AVAIL_IDX(q) = q->avail_idx;
    barrier();
    if (q->event_idx) {
        uint16_t event = VQ_AVAIL_EVENT(q);
        return (uint16_t)(q->avail_idx - event - 1) < (uint16_t)(q->avail_idx - old_idx);
    }
    return !(VQ_USED_FLAGS(q) & VIRTQ_USED_F_NO_NOTIFY);
}

int vq_pop_used(struct virtq *q, struct virtq_used_elem *out)
{
    if (VQ_USED_IDX(q) == q->last_used)
        return 0;
    barrier(); /* the index before the element it covers */
    volatile struct virtq_used_elem *e = &q->elem[q->last_used & (q->size - 1)];
    out->id = e->id;
    out->len = e->len;
    q->last_used++;
    return 1;
}
